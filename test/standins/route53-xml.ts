/**
 * The XML of the stand-in Route 53 (route53.ts, route53-health.ts): a strict little parser for the
 * request bodies, the checks of the XSD's element order, and Route 53's answer and error documents.
 */

export const XMLNS = 'https://route53.amazonaws.com/doc/2013-04-01/';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

export function ok(body: string): Reply {
  return { status: 200, body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}` };
}

/** Route 53's error document (every error but InvalidChangeBatch's `<Messages>` form). */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): Reply {
  return {
    status,
    headers,
    body: `<?xml version="1.0"?>\n<ErrorResponse xmlns="${XMLNS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error><RequestId>standin-request</RequestId></ErrorResponse>`,
  };
}

export function only(node: XmlNode, name: string): XmlNode {
  const found = node.children.filter((child) => child.name === name);
  if (found.length !== 1) throw new Error(`${node.name} must hold exactly one ${name}`);
  return found[0]!;
}

/** Children must be known and in the XSD's order, each at most once. */
export function expectChildren(node: XmlNode, order: string[]): void {
  let last = -1;
  for (const child of node.children) {
    const at = order.indexOf(child.name);
    if (at < 0)
      throw new Error(
        `cvc-complex-type.2.4.a: Invalid content was found starting with element '${child.name}'`,
      );
    if (at <= last) throw new Error(`element ${child.name} out of order or repeated in ${node.name}`);
    last = at;
  }
}

/** A strict little XML parser: elements, attributes, text and the five entities; nothing else. */
export function parseXml(source: string): XmlNode {
  const text = source.replace(/^\uFEFF?\s*<\?xml[^?]*\?>/, '');
  const token = /<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[\w.:-]+\s*=\s*"[^"]*")*)\s*(\/?)>|([^<]+)/gy;
  const stack: XmlNode[] = [];
  let root: XmlNode | undefined;
  let match: RegExpExecArray | null;
  let at = 0;
  while (at < text.length) {
    token.lastIndex = at;
    match = token.exec(text);
    if (!match) throw new Error(`unexpected character at ${at}`);
    at = token.lastIndex;
    const [, closing, name, attributes, selfClosing, chars] = match;
    if (chars !== undefined) {
      if (stack.length === 0) {
        if (chars.trim() !== '') throw new Error('text outside the root element');
        continue;
      }
      stack.at(-1)!.text += decodeEntities(chars);
      continue;
    }
    if (closing) {
      const open = stack.pop();
      if (!open || open.name !== name) throw new Error(`closing tag ${name} does not match`);
      if (open.children.length > 0) {
        if (open.text.trim() !== '') throw new Error(`mixed content in ${name}`);
        open.text = '';
      }
      continue;
    }
    const node: XmlNode = { name: name!, attributes: {}, children: [], text: '' };
    for (const attribute of (attributes ?? '').matchAll(/([\w.:-]+)\s*=\s*"([^"]*)"/g)) {
      node.attributes[attribute[1]!] = decodeEntities(attribute[2]!);
    }
    if (stack.length > 0) stack.at(-1)!.children.push(node);
    else if (root) throw new Error('more than one root element');
    else root = node;
    if (!selfClosing) stack.push(node);
  }
  if (!root || stack.length > 0) throw new Error('unterminated document');
  return root;
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);|&/gi, (_entity, name?: string) => {
    if (name === undefined) throw new Error('a bare & in text');
    const named: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
    if (name in named) return named[name]!;
    return String.fromCodePoint(
      name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1)),
    );
  });
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
