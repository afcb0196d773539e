import type { UserConfig } from 'vitest/config';
export declare const chromiumArgs: string[];
export declare const chromiumPath: string;
export declare function packageTestConfig(options?: {
  testTimeout?: number;
  include?: string[];
  browserInclude?: string[];
  fileParallelism?: boolean;
  /** Also run the tests in headless Chromium (vitest browser mode). */
  browser?: boolean;
}): UserConfig;
