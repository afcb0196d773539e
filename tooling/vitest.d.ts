import type { UserConfig } from 'vitest/config';
export declare function packageTestConfig(options?: {
  testTimeout?: number;
  include?: string[];
  fileParallelism?: boolean;
}): UserConfig;
