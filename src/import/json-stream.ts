/**
 * Reads the items of one array of a JSON document as they stream in, one at a time: the array
 * under top-level key `key` (`{"uri": …, "files": [ {…}, {…} ]}`, Artifactory's deep file list,
 * which is one document however large the repository). Memory stays bounded by the largest item,
 * not the document. Each item is handed to JSON.parse alone, so a malformed one is an error.
 */
import type { Readable } from 'node:stream';

/** An item larger than this is no listing entry: the parse stops. */
const MAX_ITEM_CHARS = 1024 * 1024;

/**
 * Yields each element of `doc[key]` (top level only) parsed. Errors: the document ends early,
 * an item is not JSON or exceeds MAX_ITEM_CHARS. A document without `key` yields nothing.
 */
export async function* jsonArrayItems(stream: Readable, key: string): AsyncGenerator {
  const decoder = new TextDecoder();
  // Scanner state across chunks.
  let depth = 0; // nesting of {} and [] outside strings
  let inString = false;
  let escaped = false;
  let stringText = ''; // the current string at depth 1 (a key candidate), bounded
  let lastKey = ''; // the last string read at depth 1
  let inArray = false; // inside doc[key]
  let item = ''; // the current item's text, when inArray and depth > 2 or in a scalar
  let itemDepth = 0;
  let done = false;
  for await (const chunk of stream) {
    const text = decoder.decode(chunk as Buffer, { stream: true });
    for (const c of text) {
      if (done) break;
      if (inArray && (inString || itemDepth > 0 || (c !== ',' && c !== ']' && !/\s/.test(c)))) {
        item += c;
      }
      if (item.length > MAX_ITEM_CHARS) throw new Error(`a ${key} item is over 1 MiB`);
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        else if (depth === 1 && stringText.length < 256) stringText += c;
        if (!inString && depth === 1) lastKey = stringText;
        continue;
      }
      if (c === '"') {
        inString = true;
        stringText = '';
        continue;
      }
      if (c === '{' || c === '[') {
        depth++;
        if (inArray) itemDepth++;
        else if (c === '[' && depth === 2 && lastKey === key) inArray = true;
        continue;
      }
      if (c === '}' || c === ']') {
        depth--;
        if (inArray) {
          if (depth === 1) {
            // the array itself closed
            if (item.trim() !== '') yield parseItem(item, key);
            item = '';
            inArray = false;
            done = true;
          } else {
            itemDepth--;
          }
        }
        continue;
      }
      if (c === ',' && inArray && itemDepth === 0) {
        yield parseItem(item, key);
        item = '';
      }
      if (c === ':' && depth === 1) continue;
      if (depth === 1 && c !== ',' && !/\s/.test(c)) lastKey = '';
    }
    if (done) {
      stream.destroy();
      return;
    }
  }
  if (depth !== 0 || inString) throw new Error('the listing ended early (truncated JSON)');
}

function parseItem(text: string, key: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new Error(`a ${key} item is not JSON: ${text.slice(0, 80)}`);
  }
}
