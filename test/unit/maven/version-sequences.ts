/**
 * The ordering sequences of Maven's own ComparableVersionTest (3.8), each in ascending order:
 * used by the ordering tests (version.test.ts) and as corner cases of the differential test
 * against the installed Maven (version-oracle.test.ts).
 */
export const QUALIFIER_SEQUENCE: readonly string[] = [
  '1-alpha2snapshot',
  '1-alpha2',
  '1-alpha-123',
  '1-beta-2',
  '1-beta123',
  '1-m2',
  '1-m11',
  '1-rc',
  '1-cr2',
  '1-rc123',
  '1-SNAPSHOT',
  '1',
  '1-sp',
  '1-sp2',
  '1-sp123',
  '1-abc',
  '1-def',
  '1-pom-1',
  '1-1-snapshot',
  '1-1',
  '1-2',
  '1-123',
];

/** ComparableVersionTest's number sequence (Maven 3.8: `.X` at the end counts as `-X`). */
export const NUMBER_SEQUENCE: readonly string[] = [
  '2.0',
  '2.0.a',
  '2-1',
  '2.0.2',
  '2.0.123',
  '2.1.0',
  '2.1-a',
  '2.1b',
  '2.1-c',
  '2.1-1',
  '2.1.0.1',
  '2.2',
  '2.123',
  '11.a2',
  '11.a11',
  '11.b2',
  '11.b11',
  '11.m2',
  '11.m11',
  '11',
  '11.a',
  '11b',
  '11c',
  '11m',
];
