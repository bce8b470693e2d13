/**
 * Runnable README examples (issue 14 #8). A fenced ```js / ```ts block right after a `<!-- runnable -->`
 * line is a whole program in plain JavaScript (no type syntax) that runs unchanged as an ES module in two
 * processes of one group: first as the primary, then as a secondary (`--proc-type=auto` in the block, or
 * read from argv). The harness gives it a fresh `--file-prefix` (replacing `--file-prefix=app`) and argv
 * `--proc-type=auto --file-prefix=<prefix> --no-huge`, and appends a tail that prints the process type,
 * keeps the primary alive until told to exit, and leaves the group.
 */

/** The bodies of the runnable blocks of a Markdown file, in order. */
export function runnableBlocks(markdown: string): string[] {
  const blocks: string[] = [];
  for (const m of markdown.matchAll(/^<!-- runnable -->[ \t]*\n```(?:js|ts|javascript|typescript)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm)) blocks.push(m[1]!);
  return blocks;
}

/** The block as a program of the group `prefix`: primary (`hold`: waits for a line on stdin) or secondary. */
export function exampleProgram(block: string, prefix: string): string {
  return `${block.replaceAll('--file-prefix=app', `--file-prefix=${prefix}`)}
;{
  const { eal: __eal } = await import('@mp/eal');
  console.log('proc-type ' + __eal().procType);
  if (process.argv.includes('--hold')) await new Promise((resolve) => process.stdin.once('data', resolve));
  __eal().cleanup();
  process.exit(0);
}
`;
}
