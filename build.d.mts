// Types of what build.mjs exports, for the tests that import it.
import type { BuildOptions } from 'esbuild';

export declare const SNIPPET_BUILD: Readonly<BuildOptions>;
