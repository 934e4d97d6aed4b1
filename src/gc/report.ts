/** The text of a garbage-collection report, for `nora gc` and the server's log. */
import { describeQuarantine } from '../storage/blob-store.ts';
import type { GcReport } from './collector.ts';

/** Lines describing `report` (no trailing newline on each). */
export function describeGcReport(report: GcReport): string[] {
  const verb = report.apply ? 'removed' : 'would remove';
  const lines = [
    report.apply
      ? `nora gc: removed unreferenced blobs older than ${report.graceSeconds} s`
      : `nora gc: dry run (nothing deleted; --apply deletes), grace ${report.graceSeconds} s`,
    `marked ${report.referenced} referenced blobs (${report.columns} reference columns), ${report.scanned} blob files in storage`,
    `${verb} ${report.blobs} unreferenced blobs, ${report.bytes} bytes`,
  ];
  for (const example of report.examples) {
    lines.push(
      `  ${example.digest} ${example.size} bytes, stored ${new Date(example.storedAt).toISOString()}`,
    );
  }
  if (report.blobs > report.examples.length) {
    lines.push(`  … and ${report.blobs - report.examples.length} more`);
  }
  if (report.rowsLeft > 0) {
    lines.push(
      `the database could not be written (${report.rowsLeftReason ?? 'unknown error'}): ${report.rowsLeft} removed blobs keep their index row, which names no file (harmless; the next pass with room removes it)`,
    );
  }
  if (report.missing > 0) {
    lines.push(
      `${report.missing} referenced blobs are missing from storage: hosted artifacts answer 410 until uploaded again, a proxy fetches its own again (docs/storage.md, Integrity of stored bytes)`,
      ...report.missingExamples.map((digest) => `  ${digest}`),
    );
    if (report.missing > report.missingExamples.length) {
      lines.push(`  … and ${report.missing - report.missingExamples.length} more`);
    }
  }
  lines.push(
    `kept ${report.young} unreferenced blobs younger than the grace period`,
    `${verb} ${report.spoolFiles} stale spool files, ${report.spoolBytes} bytes`,
  );
  const quarantine =
    report.quarantine === undefined ? undefined : describeQuarantine(report.quarantine);
  if (quarantine !== undefined) lines.push(quarantine);
  lines.push(`took ${report.seconds.toFixed(3)} s`);
  return lines;
}
