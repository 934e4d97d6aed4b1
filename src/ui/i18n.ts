/**
 * The web UI's languages (NORA §3.14): English, Russian and Chinese. Every fixed string a page
 * shows (titles, headings, table heads, buttons, empty states, error pages) comes from one
 * message table per language below; data (names, versions, repository names, error details a
 * service wrote) is never translated, only interpolated into a message's `{placeholder}`.
 *
 * The language of a request (`pickLanguage`): `?lang=<en|ru|zh>` (the switcher's links; routes.ts
 * then sets the `nora_lang` cookie so it sticks), else the `nora_lang` cookie, else the best
 * match of `Accept-Language` (RFC 9110 §12.5.4: q-values, `zh-CN` matches `zh`), else English.
 */

/** A language the UI speaks, as `<html lang>` writes it. */
export type Language = 'en' | 'ru' | 'zh';

/** Every language, in the switcher's order. */
export const LANGUAGES: readonly Language[] = ['en', 'ru', 'zh'];

/** The cookie the switcher sets (a year; `SameSite=Lax`, no secret in it). */
export const LANGUAGE_COOKIE = 'nora_lang';

/** The English table: its keys are every message's key. */
const EN = {
  'lang.name': 'English',
  'lang.label': 'Language',
  'nav.dashboard': 'Dashboard',
  'nav.tokens': 'Tokens',
  'header.anonymous': 'anonymous',
  'header.signedInAs': 'signed in as',
  'error.notFound': 'Not found',
  'error.badRequest': 'Bad request',
  'error.backToDashboard': 'back to the dashboard',
  'error.tooManyRequests': 'Too many failed sign-ins',
  'error.retryAfter': 'Try again in {seconds, plural, one {# second} other {# seconds}}.',
  'signin.title': 'Sign in required',
  'signin.reload':
    'Reload the page to sign in with the user and password (or API token) your clients use.',
  'signin.invalid': 'invalid credentials',
  'signin.required': 'authentication required for the web UI ([auth] public_web_ui is false)',
  'signin.tokens': 'sign in to manage your tokens',
  'kind.hosted': 'hosted',
  'kind.proxy': 'proxy',
  'kind.group': 'group',
  'fact.repository': 'Repository',
  'fact.packaging': 'Packaging',
  'fact.distTags': 'Dist-tags',
  'fact.cachedFrom': 'Cached from',
  'fact.upstreamProxy': 'upstream (proxy)',
  'fact.mediaType': 'Media type',
  'fact.appVersion': 'App version',
  'fact.listing': 'Listing',
  'fact.curation': 'Curation',
  'fact.listingFirst':
    'the first {count, plural, one {# entry} other {# entries}}; the rest: GET {url}',
  'fact.bytes': '{bytes, plural, one {# byte} other {# bytes}}',
  'fact.bytesMetadata':
    '{bytes, plural, one {# byte} other {# bytes}} (+ {metadata, plural, one {# byte} other {# bytes}} of PEP 658 metadata)',
  'fact.requires': 'requires {spec}',
  'mark.yanked': 'yanked',
  'mark.deprecated': 'deprecated',
  'mark.snapshot': 'snapshot',
  'mark.pseudoVersion': 'pseudo-version',
  'mark.refusedByCuration': 'refused by curation',
  'mark.held': 'held until {until}',
  // The engine's own message (what clients read, English) instead of the composed sentence.
  'curation.verbatim': 'yes',
  'curation.blocklist': '{what} is blocked by the blocklist',
  'curation.allowlist': '{what} is not on the allowlist',
  'curation.integrity': '{what} does not match its allowlist integrity',
  'curation.policy_unavailable': 'the curation policy could not be loaded',
  'curation.min_release_age': '{what} is younger than the minimum release age',
  'curation.quarantine': '{what} is in quarantine',
  'curation.none': '{what} is allowed',
  'curation.availableFrom': 'available from {at}',
  'mark.folder': 'folder, {files, plural, one {# file} other {# files}}',
  'action.push': 'push',
  'action.pull': 'pull',
  'action.delete': 'delete',
  'action.cache_hit': 'cache_hit',
  'action.proxy_fetch': 'proxy_fetch',
  'action.overwrite': 'overwrite',
  'action.retention-apply': 'retention-apply',
  'action.token-create': 'token-create',
  'action.token-revoke': 'token-revoke',
  'action.login-failed': 'login-failed',
  'action.yank': 'yank',
  'action.unyank': 'unyank',
  'action.deprecate': 'deprecate',
  'action.integrity-fail': 'integrity-fail',
  'action.dist-tag': 'dist-tag',
  'browse.repositories': 'Repositories:',
  'browse.unavailable': 'Browsing {format} repositories is not available yet.',
  'browse.of': 'of {total}',
  'browse.previous': 'previous',
  'browse.next': 'next',
  'browse.filter': 'filter by name',
  'browse.search': 'Search',
  'browse.nothingYet': 'nothing here yet',
  'browse.noMatch': 'no name contains “{q}”',
  'browse.notFound': '{name} was not found in {repo}.',
  'browse.backToList': 'back to the list',
  'browse.fetchIt': 'Fetch it',
  'browse.contents': 'Contents',
  'browse.versions': 'Versions',
  'browse.empty': 'empty',
  'browse.cached': 'cached',
  'browse.download': 'Download',
  'browse.modified': 'Modified',
  'browse.contentType': 'Content type',
  'th.name': 'Name',
  'th.latest': 'Latest',
  'th.versions': 'Versions',
  'th.size': 'Size',
  'th.updated': 'Updated',
  'th.description': 'Description',
  'th.version': 'Version',
  'th.tags': 'Tags',
  'th.marks': 'Marks',
  'th.published': 'Published',
  'th.digest': 'Digest',
  'th.time': 'Time',
  'th.action': 'Action',
  'th.who': 'Who',
  'th.registry': 'Registry',
  'th.artifact': 'Artifact',
  'th.format': 'Format',
  'th.mount': 'Mount',
  'th.clientSetup': 'Client setup',
  'th.id': 'Id',
  'th.role': 'Role',
  'th.created': 'Created',
  'th.expires': 'Expires',
  'th.lastUsed': 'Last used',
  'dash.formatsEnabled': 'Formats enabled',
  'dash.repositories': 'Repositories',
  'dash.repositoriesSub': '{hosted} hosted · {proxy} proxy · {group} group',
  'dash.hostedVersions': 'Hosted versions',
  'dash.hostedSub': '{names, plural, one {# name} other {# names}} · {bytes}',
  'dash.storageUsed': 'Storage used',
  'dash.blobStore': 'blob store',
  'dash.hitRatio': 'Proxy cache hit ratio',
  'dash.hitSub':
    '{hits, plural, one {# hit} other {# hits}} · {misses, plural, one {# miss} other {# misses}}',
  'dash.registries': 'Registries',
  'dash.mountPoints': 'Mount points',
  'dash.activity': 'Activity',
  'dash.noActivity': 'no activity yet',
  'tokens.yours': 'Your tokens',
  'tokens.none': 'no tokens yet',
  'tokens.never': 'never',
  'tokens.expired': '(expired)',
  'tokens.revoke': 'Revoke',
  'tokens.created': 'Token created. Copy it now: it is shown only once.',
  'tokens.useIt': 'Use it as the password with any user name:',
  'tokens.revoked': 'Token {id} revoked.',
  'tokens.create': 'Create a token',
  'tokens.role': 'Role',
  'tokens.ttl': 'Expires after (days, empty: never)',
  'tokens.description': 'Description',
  'tokens.descriptionPlaceholder': 'CI on build-01',
  'tokens.createButton': 'Create token',
  'tokens.confirmRevoke':
    'Revoke token {id}? Every client that uses it is refused from then on; this cannot be undone.',
  'tokens.confirmButton': 'Revoke it',
  'tokens.cancel': 'Cancel',
  'tokens.unknown': 'You have no token {id} (revoked already?).',
  'tokens.authOff': 'API tokens need authentication: set',
  'tokens.authOffWhy':
    'With auth off every request may read and write, so a token would stand for no one.',
} as const;

/** A message's key. */
export type MessageKey = keyof typeof EN;

/** One language's table: every key, each a string. */
export type MessageTable = Readonly<Record<MessageKey, string>>;

const RU: MessageTable = {
  'lang.name': 'Русский',
  'lang.label': 'Язык',
  'nav.dashboard': 'Обзор',
  'nav.tokens': 'Токены',
  'header.anonymous': 'аноним',
  'header.signedInAs': 'вы вошли как',
  'error.notFound': 'Не найдено',
  'error.badRequest': 'Неверный запрос',
  'error.backToDashboard': 'назад к обзору',
  'error.tooManyRequests': 'Слишком много неудачных входов',
  'error.retryAfter':
    'Повторите через {seconds, plural, one {# секунду} few {# секунды} many {# секунд} other {# секунды}}.',
  'signin.title': 'Требуется вход',
  'signin.reload':
    'Перезагрузите страницу, чтобы войти с теми же именем и паролем (или API-токеном), что и клиенты.',
  'signin.invalid': 'неверные учётные данные',
  'signin.required': 'для веб-интерфейса нужен вход ([auth] public_web_ui = false)',
  'signin.tokens': 'войдите, чтобы управлять своими токенами',
  'kind.hosted': 'локальный',
  'kind.proxy': 'прокси',
  'kind.group': 'группа',
  'fact.repository': 'Репозиторий',
  'fact.packaging': 'Упаковка',
  'fact.distTags': 'Dist-теги',
  'fact.cachedFrom': 'Источник кэша',
  'fact.upstreamProxy': 'внешний реестр (прокси)',
  'fact.mediaType': 'Тип медиа',
  'fact.appVersion': 'Версия приложения',
  'fact.listing': 'Список',
  'fact.curation': 'Курирование',
  'fact.listingFirst':
    '{count, plural, one {первая # запись} few {первые # записи} many {первые # записей} other {первые # записи}}; остальные: GET {url}',
  'fact.bytes': '{bytes, plural, one {# байт} few {# байта} many {# байт} other {# байта}}',
  'fact.bytesMetadata':
    '{bytes, plural, one {# байт} few {# байта} many {# байт} other {# байта}} (+ {metadata, plural, one {# байт} few {# байта} many {# байт} other {# байта}} метаданных PEP 658)',
  'fact.requires': 'требует {spec}',
  'mark.yanked': 'отозвана',
  'mark.deprecated': 'устарела',
  'mark.snapshot': 'снапшот',
  'mark.pseudoVersion': 'псевдоверсия',
  'mark.refusedByCuration': 'отклонена курированием',
  'mark.held': 'задержана до {until}',
  'curation.verbatim': 'no',
  'curation.blocklist': '{what} заблокирована списком запретов',
  'curation.allowlist': '{what} нет в списке разрешённых',
  'curation.integrity': '{what} не совпадает с контрольной суммой из списка разрешённых',
  'curation.policy_unavailable': 'политика курирования не загружена',
  'curation.min_release_age': '{what} моложе минимального возраста выпуска',
  'curation.quarantine': '{what} на карантине',
  'curation.none': '{what} разрешена',
  'curation.availableFrom': 'доступна с {at}',
  'mark.folder':
    'папка, {files, plural, one {# файл} few {# файла} many {# файлов} other {# файла}}',
  'action.push': 'публикация',
  'action.pull': 'загрузка',
  'action.delete': 'удаление',
  'action.cache_hit': 'из кэша',
  'action.proxy_fetch': 'загрузка через прокси',
  'action.overwrite': 'перезапись',
  'action.retention-apply': 'очистка по политике',
  'action.token-create': 'создание токена',
  'action.token-revoke': 'отзыв токена',
  'action.login-failed': 'неудачный вход',
  'action.yank': 'отзыв версии',
  'action.unyank': 'возврат версии',
  'action.deprecate': 'пометка устаревшим',
  'action.integrity-fail': 'повреждённый файл',
  'action.dist-tag': 'метка версии',
  'browse.repositories': 'Репозитории:',
  'browse.unavailable': 'Просмотр репозиториев {format} пока недоступен.',
  'browse.of': 'из {total}',
  'browse.previous': 'назад',
  'browse.next': 'вперёд',
  'browse.filter': 'фильтр по имени',
  'browse.search': 'Найти',
  'browse.nothingYet': 'здесь пока ничего нет',
  'browse.noMatch': 'нет имён, содержащих «{q}»',
  'browse.notFound': '{name} не найден в {repo}.',
  'browse.backToList': 'назад к списку',
  'browse.fetchIt': 'Как получить',
  'browse.contents': 'Содержимое',
  'browse.versions': 'Версии',
  'browse.empty': 'пусто',
  'browse.cached': 'в кэше',
  'browse.download': 'Скачать',
  'browse.modified': 'Изменён',
  'browse.contentType': 'Тип содержимого',
  'th.name': 'Имя',
  'th.latest': 'Последняя',
  'th.versions': 'Версии',
  'th.size': 'Размер',
  'th.updated': 'Обновлено',
  'th.description': 'Описание',
  'th.version': 'Версия',
  'th.tags': 'Теги',
  'th.marks': 'Отметки',
  'th.published': 'Опубликовано',
  'th.digest': 'Дайджест',
  'th.time': 'Время',
  'th.action': 'Действие',
  'th.who': 'Кто',
  'th.registry': 'Реестр',
  'th.artifact': 'Артефакт',
  'th.format': 'Формат',
  'th.mount': 'Путь',
  'th.clientSetup': 'Настройка клиента',
  'th.id': 'Id',
  'th.role': 'Роль',
  'th.created': 'Создан',
  'th.expires': 'Истекает',
  'th.lastUsed': 'Последнее использование',
  'dash.formatsEnabled': 'Включённые форматы',
  'dash.repositories': 'Репозитории',
  'dash.repositoriesSub':
    '{hosted, plural, one {# локальный} few {# локальных} many {# локальных} other {# локального}} · {proxy} прокси · {group, plural, one {# группа} few {# группы} many {# групп} other {# группы}}',
  'dash.hostedVersions': 'Локальные версии',
  'dash.hostedSub':
    '{names, plural, one {# имя} few {# имени} many {# имён} other {# имени}} · {bytes}',
  'dash.storageUsed': 'Занято в хранилище',
  'dash.blobStore': 'хранилище блобов',
  'dash.hitRatio': 'Попадания в кэш прокси',
  'dash.hitSub':
    '{hits, plural, one {# попадание} few {# попадания} many {# попаданий} other {# попадания}} · {misses, plural, one {# промах} few {# промаха} many {# промахов} other {# промаха}}',
  'dash.registries': 'Реестры',
  'dash.mountPoints': 'Точки подключения',
  'dash.activity': 'Активность',
  'dash.noActivity': 'активности пока нет',
  'tokens.yours': 'Ваши токены',
  'tokens.none': 'токенов пока нет',
  'tokens.never': 'никогда',
  'tokens.expired': '(истёк)',
  'tokens.revoke': 'Отозвать',
  'tokens.created': 'Токен создан. Скопируйте его сейчас: он показывается только один раз.',
  'tokens.useIt': 'Используйте его как пароль с любым именем пользователя:',
  'tokens.revoked': 'Токен {id} отозван.',
  'tokens.create': 'Создать токен',
  'tokens.role': 'Роль',
  'tokens.ttl': 'Истекает через (дней, пусто: никогда)',
  'tokens.description': 'Описание',
  'tokens.descriptionPlaceholder': 'CI на build-01',
  'tokens.createButton': 'Создать токен',
  'tokens.confirmRevoke':
    'Отозвать токен {id}? Все клиенты, которые им пользуются, будут получать отказ; отменить это нельзя.',
  'tokens.confirmButton': 'Отозвать',
  'tokens.cancel': 'Отмена',
  'tokens.unknown': 'У вас нет токена {id} (уже отозван?).',
  'tokens.authOff': 'Для API-токенов нужна аутентификация: задайте',
  'tokens.authOffWhy':
    'Без аутентификации любой запрос может читать и писать, и токен никого бы не представлял.',
};

const ZH: MessageTable = {
  'lang.name': '中文',
  'lang.label': '语言',
  'nav.dashboard': '概览',
  'nav.tokens': '令牌',
  'header.anonymous': '匿名',
  'header.signedInAs': '已登录：',
  'error.notFound': '未找到',
  'error.badRequest': '请求无效',
  'error.backToDashboard': '返回概览',
  'error.tooManyRequests': '登录失败次数过多',
  'error.retryAfter': '请在 {seconds} 秒后重试。',
  'signin.title': '需要登录',
  'signin.reload': '请刷新页面，使用客户端所用的用户名和密码（或 API 令牌）登录。',
  'signin.invalid': '凭据无效',
  'signin.required': 'Web 界面需要登录（[auth] public_web_ui 为 false）',
  'signin.tokens': '请登录以管理你的令牌',
  'kind.hosted': '托管',
  'kind.proxy': '代理',
  'kind.group': '组',
  'fact.repository': '仓库',
  'fact.packaging': '打包类型',
  'fact.distTags': '发布标签',
  'fact.cachedFrom': '缓存来源',
  'fact.upstreamProxy': '上游（代理）',
  'fact.mediaType': '媒体类型',
  'fact.appVersion': '应用版本',
  'fact.listing': '列表',
  'fact.curation': '准入策略',
  'fact.listingFirst': '前 {count} 项；其余：GET {url}',
  'fact.bytes': '{bytes} 字节',
  'fact.bytesMetadata': '{bytes} 字节（另有 {metadata} 字节 PEP 658 元数据）',
  'fact.requires': '需要 {spec}',
  'mark.yanked': '已撤回',
  'mark.deprecated': '已弃用',
  'mark.snapshot': '快照',
  'mark.pseudoVersion': '伪版本',
  'mark.refusedByCuration': '被准入策略拒绝',
  'mark.held': '隔离至 {until}',
  'curation.verbatim': 'no',
  'curation.blocklist': '{what} 被黑名单阻止',
  'curation.allowlist': '{what} 不在白名单中',
  'curation.integrity': '{what} 与白名单中的完整性校验值不符',
  'curation.policy_unavailable': '无法加载准入策略',
  'curation.min_release_age': '{what} 的发布时间短于最短发布期限',
  'curation.quarantine': '{what} 处于隔离期',
  'curation.none': '{what} 已允许',
  'curation.availableFrom': '可用时间：{at}',
  'mark.folder': '文件夹，{files} 个文件',
  'action.push': '推送',
  'action.pull': '拉取',
  'action.delete': '删除',
  'action.cache_hit': '缓存命中',
  'action.proxy_fetch': '代理获取',
  'action.overwrite': '覆盖',
  'action.retention-apply': '保留策略清理',
  'action.token-create': '创建令牌',
  'action.token-revoke': '吊销令牌',
  'action.login-failed': '登录失败',
  'action.yank': '撤回版本',
  'action.unyank': '恢复版本',
  'action.deprecate': '标记弃用',
  'action.integrity-fail': '文件损坏',
  'action.dist-tag': '版本标签',
  'browse.repositories': '仓库：',
  'browse.unavailable': '暂不支持浏览 {format} 仓库。',
  'browse.of': '共 {total}',
  'browse.previous': '上一页',
  'browse.next': '下一页',
  'browse.filter': '按名称筛选',
  'browse.search': '搜索',
  'browse.nothingYet': '这里还没有内容',
  'browse.noMatch': '没有名称包含“{q}”',
  'browse.notFound': '在 {repo} 中未找到 {name}。',
  'browse.backToList': '返回列表',
  'browse.fetchIt': '获取方式',
  'browse.contents': '内容',
  'browse.versions': '版本',
  'browse.empty': '空',
  'browse.cached': '已缓存',
  'browse.download': '下载',
  'browse.modified': '修改时间',
  'browse.contentType': '内容类型',
  'th.name': '名称',
  'th.latest': '最新',
  'th.versions': '版本数',
  'th.size': '大小',
  'th.updated': '更新时间',
  'th.description': '描述',
  'th.version': '版本',
  'th.tags': '标签',
  'th.marks': '标记',
  'th.published': '发布时间',
  'th.digest': '摘要',
  'th.time': '时间',
  'th.action': '操作',
  'th.who': '用户',
  'th.registry': '仓库',
  'th.artifact': '制品',
  'th.format': '格式',
  'th.mount': '挂载路径',
  'th.clientSetup': '客户端设置',
  'th.id': 'Id',
  'th.role': '角色',
  'th.created': '创建时间',
  'th.expires': '过期时间',
  'th.lastUsed': '最近使用',
  'dash.formatsEnabled': '已启用格式',
  'dash.repositories': '仓库',
  'dash.repositoriesSub': '托管 {hosted} · 代理 {proxy} · 组 {group}',
  'dash.hostedVersions': '托管版本',
  'dash.hostedSub': '{names} 个名称 · {bytes}',
  'dash.storageUsed': '已用存储',
  'dash.blobStore': 'Blob 存储',
  'dash.hitRatio': '代理缓存命中率',
  'dash.hitSub': '命中 {hits} · 未命中 {misses}',
  'dash.registries': '注册表',
  'dash.mountPoints': '挂载点',
  'dash.activity': '动态',
  'dash.noActivity': '暂无动态',
  'tokens.yours': '你的令牌',
  'tokens.none': '还没有令牌',
  'tokens.never': '永不',
  'tokens.expired': '（已过期）',
  'tokens.revoke': '吊销',
  'tokens.created': '令牌已创建。请立即复制：它只显示这一次。',
  'tokens.useIt': '将其作为密码使用，用户名任意：',
  'tokens.revoked': '令牌 {id} 已吊销。',
  'tokens.create': '创建令牌',
  'tokens.role': '角色',
  'tokens.ttl': '有效天数（留空：永不过期）',
  'tokens.description': '描述',
  'tokens.descriptionPlaceholder': 'build-01 上的 CI',
  'tokens.createButton': '创建令牌',
  'tokens.confirmRevoke': '吊销令牌 {id}？此后使用它的所有客户端都会被拒绝；此操作无法撤销。',
  'tokens.confirmButton': '确认吊销',
  'tokens.cancel': '取消',
  'tokens.unknown': '你没有令牌 {id}（可能已被吊销）。',
  'tokens.authOff': 'API 令牌需要启用认证：设置',
  'tokens.authOffWhy': '未启用认证时任何请求都可读写，令牌不代表任何人。',
};

/** The message tables, by language (exported for the completeness test). */
export const MESSAGES: Readonly<Record<Language, MessageTable>> = { en: EN, ru: RU, zh: ZH };

/**
 * A language's messages: `t(key, vars)` is the key's text with each `{name}` replaced by
 * `vars.name` and each count in the noun form its number takes (`formatMessage`; plain text:
 * the caller's `html` template escapes it; a missing var stays as is).
 */
export type Translate = (
  key: MessageKey,
  vars?: Readonly<Record<string, string | number>>,
) => string;

/** The `Translate` of `language`. */
export function translator(language: Language): Translate {
  const table = MESSAGES[language];
  return (key, vars) => {
    const text = table[key];
    return vars === undefined ? text : formatMessage(language, text, vars);
  };
}

/** A plural argument's selectors: CLDR's categories, or `=N` for one exact number. */
const PLURAL_SELECTOR = /^(?:zero|one|two|few|many|other|=[0-9]+)$/;

/** Each language's CLDR plural rules (`Intl.PluralRules`: 1 file, 2 files; 1 файл, 2 файла, 5 файлов). */
const PLURAL_RULES: Readonly<Record<Language, Intl.PluralRules>> = {
  en: new Intl.PluralRules('en'),
  ru: new Intl.PluralRules('ru'),
  zh: new Intl.PluralRules('zh'),
};

/** The plural categories a count in `language` can take (`other` always among them). */
export function pluralCategories(language: Language): readonly string[] {
  return PLURAL_RULES[language].resolvedOptions().pluralCategories;
}

/** One `{…}` argument of a message: a plain `{name}`, or a count `{name, plural, …}`. */
export interface MessageArgument {
  readonly name: string;
  /** A count's forms by selector (`one`, `few`, `many`, `other`, `=0`…); absent for `{name}`. */
  readonly plural?: Readonly<Record<string, string>>;
}

/** The index of the `}` that closes the `{` at `open` (nested braces counted), -1 when none. */
function closingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

/**
 * The argument written inside a message's braces, undefined when it is neither form (then the
 * text stays as written). A count is ICU MessageFormat's plural subset, the notation translators
 * know: `{files, plural, one {# file} other {# files}}`, `#` standing for the number; each form
 * may hold further arguments.
 */
function parseArgument(inner: string): MessageArgument | undefined {
  if (/^[a-z]+$/.test(inner)) return { name: inner };
  const head = /^([a-z]+),\s*plural,/.exec(inner);
  if (head === null) return undefined;
  const plural: Record<string, string> = {};
  let rest = inner.slice(head[0].length);
  for (;;) {
    rest = rest.trimStart();
    if (rest === '') break;
    const open = rest.indexOf('{');
    const selector = open === -1 ? '' : rest.slice(0, open).trim();
    const close = open === -1 ? -1 : closingBrace(rest, open);
    if (!PLURAL_SELECTOR.test(selector) || close === -1 || selector in plural) return undefined;
    plural[selector] = rest.slice(open + 1, close);
    rest = rest.slice(close + 1);
  }
  return 'other' in plural ? { name: head[1] ?? '', plural } : undefined;
}

/** Every argument of `text`, in order, each count's forms' own arguments after it. */
export function messageArguments(text: string): MessageArgument[] {
  const found: MessageArgument[] = [];
  for (let at = text.indexOf('{'); at !== -1;) {
    const close = closingBrace(text, at);
    if (close === -1) break;
    const argument = parseArgument(text.slice(at + 1, close));
    if (argument === undefined) {
      at = text.indexOf('{', at + 1);
      continue;
    }
    found.push(argument);
    for (const form of Object.values(argument.plural ?? {})) found.push(...messageArguments(form));
    at = text.indexOf('{', close + 1);
  }
  return found;
}

/**
 * `text` in `language` with its arguments filled from `vars` (`messageArguments`): `{name}` by
 * the value, a count by the form its number selects — an exact `=N` first, else the language's
 * CLDR category (`PLURAL_RULES`), else `other` — with `#` replaced by the number. An argument
 * whose var is absent (or, for a count, not a number) stays as written.
 */
export function formatMessage(
  language: Language,
  text: string,
  vars: Readonly<Record<string, string | number>>,
): string {
  let out = '';
  let from = 0;
  for (let at = text.indexOf('{'); at !== -1; at = text.indexOf('{', at + 1)) {
    const close = closingBrace(text, at);
    if (close === -1) break;
    const argument = parseArgument(text.slice(at + 1, close));
    if (argument === undefined) continue;
    const filled = fillArgument(language, argument, vars);
    if (filled !== undefined) {
      out += text.slice(from, at) + filled;
      from = close + 1;
    }
    at = close;
  }
  return out + text.slice(from);
}

/** `argument`'s text from `vars` (`formatMessage`), undefined when it stays as written. */
function fillArgument(
  language: Language,
  argument: MessageArgument,
  vars: Readonly<Record<string, string | number>>,
): string | undefined {
  const value = vars[argument.name];
  if (value === undefined) return undefined;
  if (argument.plural === undefined) return String(value);
  const count = typeof value === 'number' ? value : Number(value);
  if (String(value).trim() === '' || !Number.isFinite(count)) return undefined;
  const forms = argument.plural;
  const form =
    forms[`=${count}`] ?? forms[PLURAL_RULES[language].select(count)] ?? forms.other ?? '';
  return formatMessage(language, form.replaceAll('#', String(value)), vars);
}

/** `value` when it names a language (case-insensitive), else undefined. */
export function asLanguage(value: string | undefined): Language | undefined {
  const lower = value?.trim().toLowerCase();
  return LANGUAGES.find((l) => l === lower);
}

/**
 * The best language of an `Accept-Language` header (RFC 9110 §12.5.4): the highest q-value
 * among the ranges whose primary subtag is one we speak (`ru-RU` → ru, `zh-Hans-CN` → zh; the
 * header's order breaks ties), undefined when none is (or the header is absent). `q=0` ranges
 * are refused ones, skipped.
 */
export function fromAcceptLanguage(header: string | undefined): Language | undefined {
  if (header === undefined) return undefined;
  let best: { language: Language; q: number } | undefined;
  for (const part of header.split(',').slice(0, 50)) {
    const [range = '', ...params] = part.split(';');
    const language = asLanguage(range.trim().split('-')[0]);
    if (language === undefined) continue;
    const qParam = params.map((p) => p.trim()).find((p) => /^q=/i.test(p));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!(q > 0 && q <= 1)) continue;
    if (best === undefined || q > best.q) best = { language, q };
  }
  return best?.language;
}

/** The value of cookie `name` in a `Cookie` header (RFC 6265 §5.4), undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at !== -1 && pair.slice(0, at).trim() === name) return pair.slice(at + 1).trim();
  }
  return undefined;
}

/** What a request says about its language. */
export interface LanguageHints {
  /** `?lang=` (the switcher). */
  readonly query?: string | undefined;
  readonly cookie?: string | undefined;
  readonly acceptLanguage?: string | undefined;
}

/** The request's language: `?lang=`, the cookie, Accept-Language, English (module docstring). */
export function pickLanguage(hints: LanguageHints): Language {
  return (
    asLanguage(hints.query) ??
    asLanguage(cookieValue(hints.cookie, LANGUAGE_COOKIE)) ??
    fromAcceptLanguage(hints.acceptLanguage) ??
    'en'
  );
}
