import base from '../../tsup.base';

export default { ...base, entry: ['src/index.ts', 'src/main.ts'] };
