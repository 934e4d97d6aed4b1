/**
 * Retention rules that can judge nothing: a rule whose `repository` glob matches no hosted
 * repository of its `registry` (a group's name, a proxy's, another format's repository, a typo).
 * Nothing is deleted by such a rule, which is safe, but its author believes a policy is active
 * (trial 27 newR F5): `nora config check` and start-up warn (app.ts checkConfig), and every plan
 * carries the same lines (engine.ts `warnings`).
 */
import { compileGlob } from '../auth/patterns.ts';
import { closest } from '../config/env.ts';
import type { RetentionRule } from '../config/schema.ts';
import type { Repository } from '../repos/repository.ts';

type RepositoryShape = Pick<Repository, 'name' | 'format' | 'kind' | 'members'>;

/**
 * One line per rule of `rules` (numbered from 1, as plans number them) that matches no hosted
 * repository of `repositories` of its registry, saying what its `repository` glob does match:
 * `retention rule 2 (registry = "raw", repository = "raw-all") matches no hosted repository:
 * raw-all is a group (…)`. Empty when every rule has one.
 */
export function rulesMatchingNothing(
  rules: readonly RetentionRule[],
  repositories: readonly RepositoryShape[],
): string[] {
  const warnings: string[] = [];
  rules.forEach((rule, index) => {
    const glob = compileGlob(rule.repository);
    const ofRegistry = (repo: RepositoryShape) =>
      rule.registry === '*' || repo.format === rule.registry;
    if (
      repositories.some(
        (repo) => repo.kind === 'hosted' && ofRegistry(repo) && glob.test(repo.name),
      )
    )
      return;
    const named = repositories.filter((repo) => glob.test(repo.name));
    const why = named.slice(0, 3).map((repo) => {
      if (!ofRegistry(repo)) return `${repo.name} is a ${repo.format} repository`;
      if (repo.kind === 'group') {
        const hosted = repo.members.filter((member) =>
          repositories.some((r) => r.name === member && r.kind === 'hosted'),
        );
        return `${repo.name} is a group (groups hold nothing of their own: name its hosted ${hosted.length === 0 ? 'members' : `members, ${hosted.join(', ')}`})`;
      }
      return `${repo.name} is a proxy (what a proxy caches is never judged)`;
    });
    if (named.length === 0) {
      const near = closest(
        rule.repository,
        repositories
          .filter((repo) => repo.kind === 'hosted' && ofRegistry(repo))
          .map((r) => r.name),
      );
      why.push(
        `no repository is named so${near === undefined ? '' : ` (did you mean "${near}"?)`}`,
      );
    }
    const registry = rule.registry === '*' ? '' : `registry = "${rule.registry}", `;
    warnings.push(
      `retention rule ${index + 1} (${registry}repository = "${rule.repository}") matches no hosted repository: ${why.join('; ')}; it judges nothing`,
    );
  });
  return warnings;
}
