/**
 * The writers `nora import` knows, one per NORA format: one line each. A source repository whose
 * format has no writer here is listed by `assess` as not importable ("no writer for <format>").
 */
import { cargoWriter } from './cargo.ts';
import { dockerWriter } from './docker.ts';
import { helmWriter } from './helm.ts';
import { mavenWriter } from './maven.ts';
import { npmWriter } from './npm.ts';
import { pypiWriter } from './pypi.ts';
import { rawWriter } from './raw.ts';
import type { ImportWriter } from './types.ts';

export const IMPORT_WRITERS: readonly ImportWriter[] = [
  mavenWriter,
  rawWriter,
  npmWriter,
  pypiWriter,
  helmWriter,
  cargoWriter,
  dockerWriter,
];
