/** THE registration point of formats: one entry per format. */
import { cargoFormat } from './cargo/index.ts';
import type { FormatModule } from './format.ts';
import { mavenFormat } from './maven/index.ts';
import { npmFormat } from './npm/index.ts';
import { ociFormat } from './oci/index.ts';
import { pypiFormat } from './pypi/index.ts';
import { rawFormat } from './raw/index.ts';
import { notYetBuilt } from './unavailable.ts';

export const FORMATS: readonly FormatModule[] = [
  ociFormat,
  npmFormat,
  pypiFormat,
  mavenFormat,
  cargoFormat,
  notYetBuilt('go', '/go'),
  rawFormat,
];
