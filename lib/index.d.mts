// Types for `import … from 'hyperframes'`: the same names as the CommonJS entry, plus the whole
// API as the default export.
import hf from './index.js';

export * from './index.js';
export default hf;
