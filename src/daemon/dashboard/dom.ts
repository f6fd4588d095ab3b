/**
 * Small DOM helpers. Everything from the server goes in as text (textContent, attribute values),
 * never as markup; the setters touch the DOM only on a change, so that a refresh every few seconds
 * does not disturb a focused control or a selection.
 */

export const SVG = 'http://www.w3.org/2000/svg';

/** The page's element with this id (the markup is src/daemon/dashboard.ts: a missing one is a bug). */
export function $(id: string): HTMLElement {
  const node = document.getElementById(id);
  if (!node) throw new Error(`the page has no #${id}`);
  return node;
}

export function $input(id: string): HTMLInputElement {
  const node = $(id);
  if (!(node instanceof HTMLInputElement)) throw new Error(`#${id} is not an input`);
  return node;
}

/** A new element with these attributes and, when given, this text. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs?: Record<string, string> | null,
  text?: string,
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  if (attrs) for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

export function show(node: HTMLElement, on: boolean): void {
  node.hidden = !on;
}

export function setText(node: Node, text: string): void {
  if (node.textContent !== text) node.textContent = text;
}

export function setClass(node: HTMLElement, cls: string): void {
  if (node.className !== cls) node.className = cls;
}
