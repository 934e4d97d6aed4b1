/** THE registration point of formats: one entry per format. */
import { cargoFormat } from './cargo/index.ts';
import type { FormatModule } from './format.ts';
import { goFormat } from './go/index.ts';
import { helmFormat } from './helm/index.ts';
import { mavenFormat } from './maven/index.ts';
import { npmFormat } from './npm/index.ts';
import { ociFormat } from './oci/index.ts';
import { pypiFormat } from './pypi/index.ts';
import { rawFormat } from './raw/index.ts';

export const FORMATS: readonly FormatModule[] = [
  ociFormat,
  npmFormat,
  pypiFormat,
  mavenFormat,
  cargoFormat,
  rawFormat,
  goFormat,
  helmFormat,
];
