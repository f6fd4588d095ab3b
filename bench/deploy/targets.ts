/**
 * Every target, in the order they run: fs first, then the peers and the limit, then outlast on
 * Swift, then the opt-in ones (scale, progress: not in a default run).
 */
import { outlastAzure } from './azure-targets.ts';
import { outlastProgress, outlastScale } from './opt-in-targets.ts';
import { outlastFs, outlastS3, outlastSwift, outlastTwo } from './outlast-targets.ts';
import { awsSync, barePutTarget, bareS3PutTarget, rcloneTarget, swiftUpload } from './peer-targets.ts';
import type { Target } from './target.ts';

export const TARGETS: Target[] = [
  outlastFs,
  barePutTarget(16),
  barePutTarget(32),
  barePutTarget(16, true),
  bareS3PutTarget(32),
  awsSync,
  rcloneTarget(
    'rclone-s3',
    [],
    '`rclone sync` (Debian 1.60) → cluster A, S3 API, default flags (4 transfers, 8 checkers)',
  ),
  rcloneTarget(
    'rclone-s3-16',
    ['--transfers', '16', '--checkers', '16'],
    '`rclone sync` → cluster A, S3 API, `--transfers 16 --checkers 16`',
  ),
  swiftUpload,
  outlastSwift,
  outlastS3,
  outlastTwo,
  outlastAzure,
  outlastProgress,
  outlastScale,
];
