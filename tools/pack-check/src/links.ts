/**
 * The relative links of a Markdown file: inline `[text](target)` / `![alt](target)` and reference
 * definitions `[label]: target`, outside code blocks and code spans. Absolute URLs (`https:`, `mailto:`, …)
 * and same-page anchors (`#…`) are not relative; a `#fragment` or `?query` is cut off the target.
 */
export function relativeLinks(markdown: string): string[] {
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
  const targets: string[] = [];
  for (const m of text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) targets.push(m[1]!);
  for (const m of text.matchAll(/^ {0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$/gm)) targets.push(m[1]!);
  return targets.filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith('#')).map((t) => t.replace(/[#?].*$/, ''));
}
