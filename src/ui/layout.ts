/**
 * The web UI's page chrome (NORA §3.14): one function renders a whole page — title, a nav with
 * every enabled format, the body — with its CSS embedded (the host may be air-gapped: no external
 * asset) and no script at all, so the strict CSP routes.ts sends (`default-src 'self'`; styles
 * by hash) holds.
 *
 * Markup is built with the `html` tagged template: every interpolated value is HTML-escaped
 * unless it is itself `Html` (made by `html`, `raw` or `join`). Package names and descriptions
 * are untrusted (anyone who may publish writes them): never build markup by string concatenation.
 */
import { createHash } from 'node:crypto';
import { type Language, LANGUAGES, MESSAGES, type Translate } from './i18n.ts';

/** Markup known to be safe (escaped or written by us). */
export class Html {
  readonly value: string;
  constructor(value: string) {
    this.value = value;
  }
  toString(): string {
    return this.value;
  }
}

/** `text` with `& < > " '` escaped: safe in element content and in quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) =>
    c === '&' ? '&amp;' : c === '<' ? '&lt;' : c === '>' ? '&gt;' : c === '"' ? '&quot;' : '&#39;',
  );
}

/** A value interpolated into `html`: Html as is, arrays joined, null/undefined/false as nothing. */
export type HtmlValue = Html | string | number | boolean | null | undefined | readonly HtmlValue[];

function render(value: HtmlValue): string {
  if (value instanceof Html) return value.value;
  if (value === null || value === undefined || value === false) return '';
  if (Array.isArray(value)) return (value as readonly HtmlValue[]).map(render).join('');
  return escapeHtml(String(value));
}

/** Tagged template: `html\`<td>${name}</td>\`` escapes `name`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): Html {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new Html(out);
}

/** Trusted markup as is (our own constant strings only, never request or package data). */
export function raw(markup: string): Html {
  return new Html(markup);
}

/** Items rendered and joined by `separator` (escaped like any value). */
export function join(items: readonly HtmlValue[], separator: HtmlValue = ''): Html {
  return new Html(items.map(render).join(render(separator)));
}

/** The embedded style sheet (its hash is in the CSP: `style-src 'sha256-…'`). */
export const CSS = `
:root{--bg:#f6f7f9;--fg:#1d2330;--muted:#5d6675;--card:#fff;--line:#dde1e7;--accent:#2f6fdb;--bad:#b3261e;--good:#1b7f3b}
@media (prefers-color-scheme:dark){:root{--bg:#14171c;--fg:#e6e9ee;--muted:#9aa3b2;--card:#1d2128;--line:#2e343d;--accent:#6f9ff0;--bad:#f08b84;--good:#6fcf8f}}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:var(--bg);color:var(--fg)}
header{display:flex;flex-wrap:wrap;align-items:center;gap:.25rem 1rem;padding:.6rem 1.2rem;background:var(--card);border-bottom:1px solid var(--line)}
header .brand{font-weight:700;font-size:1.1rem;margin-right:1rem;color:var(--fg);text-decoration:none}
nav a{color:var(--muted);text-decoration:none;padding:.2rem .45rem;border-radius:4px}
nav a:hover{color:var(--fg)}
nav a[aria-current=page]{color:var(--accent);background:var(--bg)}
header .user{margin-left:auto;color:var(--muted)}
header .langs a{color:var(--muted);text-decoration:none;padding:.1rem .3rem}
header .langs a[aria-current=true]{color:var(--accent);font-weight:600}
main{max-width:1200px;margin:0 auto;padding:1rem 1.2rem 3rem}
h1{font-size:1.4rem;margin:.4rem 0 1rem}
h2{font-size:1.1rem;margin:1.6rem 0 .6rem}
a{color:var(--accent)}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(190px,1fr));gap:.8rem}
.card{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.8rem 1rem}
.card .label{color:var(--muted);font-size:.8rem;text-transform:uppercase;letter-spacing:.04em}
.card .value{font-size:1.5rem;font-weight:600}
.registries{grid-template-columns:repeat(auto-fill,minmax(280px,1fr))}
table{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px}
th,td{text-align:left;padding:.45rem .6rem;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600;font-size:.85rem}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:.85rem}
pre{margin:0;white-space:pre-wrap;word-break:break-all}
.muted{color:var(--muted)}
.empty{color:var(--muted);font-style:italic}
.notice{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--accent);padding:.7rem 1rem;border-radius:6px;margin:1rem 0}
.notice.bad{border-left-color:var(--bad)}
.notice.good{border-left-color:var(--good)}
form.inline{display:inline}
form.stack{display:grid;gap:.6rem;max-width:520px;background:var(--card);border:1px solid var(--line);border-radius:8px;padding:1rem}
label{display:grid;gap:.2rem}
input,select,button{font:inherit;padding:.35rem .5rem;border:1px solid var(--line);border-radius:5px;background:var(--bg);color:var(--fg)}
button{cursor:pointer;background:var(--accent);color:#fff;border-color:var(--accent)}
button.danger{background:var(--bad);border-color:var(--bad)}
.secret{font-size:1rem;padding:.5rem;background:var(--bg);border:1px dashed var(--line);user-select:all}
`;

/**
 * The `<style>` element, built outside any `html` template: Prettier formats the markup of `html`
 * templates, and a single character changed inside the element would break its CSP hash.
 */
const STYLE = raw(`<style>${CSS}</style>`);

/** `'sha256-…'` of CSS (the style element's exact text), for the CSP's style-src. */
export const CSS_HASH = `'sha256-${createHash('sha256').update(CSS).digest('base64')}'`;

/** One nav entry: an enabled format's browse page. */
export interface NavItem {
  readonly label: string;
  /** Path below the UI root (`''` the dashboard, `npm`, `tokens`). */
  readonly path: string;
}

export interface Page {
  /** The page's title (plain text: escaped). */
  readonly title: string;
  /** Where the UI is served, no trailing `/`: `/ui`, or `/nora/ui` behind a sub-path proxy. */
  readonly uiRoot: string;
  /** The nav: the dashboard, every enabled format, tokens (routes.ts builds it). */
  readonly nav: readonly NavItem[];
  /** The entry of `nav` this page belongs to (its `path`). */
  readonly current: string;
  /** Who is signed in, shown in the header; undefined: anonymous. */
  readonly user?: string | undefined;
  readonly body: Html;
  /** The page's language (`<html lang>`) and its messages (src/ui/i18n.ts). */
  readonly language: Language;
  readonly t: Translate;
  /**
   * The switcher's link for `language`: this page's URL with `?lang=` set (routes.ts builds it;
   * the answer to it sets the cookie). Undefined: no switcher (none of the links would work).
   */
  readonly languageHref?: ((language: Language) => string) | undefined;
}

/** The whole HTML document of `page` (UTF-8; send it as `text/html; charset=utf-8`). */
export function renderPage(page: Page): string {
  const nav = page.nav.map(
    (item) =>
      html`<a
        href="${page.uiRoot}/${item.path}"
        ${item.path === page.current ? raw(' aria-current="page"') : ''}
        >${item.label}</a
      >`,
  );
  const { t, languageHref } = page;
  const switcher =
    languageHref === undefined
      ? ''
      : html`<span class="langs" aria-label="${t('lang.label')}"
          >${LANGUAGES.map(
            (l) =>
              html` <a
                href="${languageHref(l)}"
                hreflang="${l}"
                lang="${l}"
                ${l === page.language ? raw(' aria-current="true"') : ''}
                >${MESSAGES[l]['lang.name']}</a
              >`,
          )}</span
        >`;
  return html`<!DOCTYPE html>
    <html lang="${page.language}">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="same-origin" />
        <title>${page.title} · NORA</title>
        ${STYLE}
      </head>
      <body>
        <header>
          <a class="brand" href="${page.uiRoot}/">NORA</a>
          <nav>${nav}</nav>
          <span class="user"
            >${page.user === undefined ? t('header.anonymous') : html`${t('header.signedInAs')} <strong>${page.user}</strong>`}</span
          >
          ${switcher}
        </header>
        <main>
          <h1>${page.title}</h1>
          ${page.body}
        </main>
      </body>
    </html> `.value;
}
