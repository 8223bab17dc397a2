// A tiny DOM helper: `h()` builds elements, `setText`/`setAttr` write only on change, and
// `KeyedList` keeps one element per key so live updates touch only what changed.

export type Child = Node | string | number | null | undefined | false;

type EventProps = { [K in keyof HTMLElementEventMap as `on${Capitalize<K>}`]?: (event: HTMLElementEventMap[K]) => void };

export type Props = EventProps & {
  class?: string;
  /** `data-*` attributes, by their name without the prefix. */
  data?: Record<string, string>;
  [attribute: string]: unknown;
};

/**
 * Creates an element. Props: `class`, `data` (a map of `data-*`), `onClick`-style listeners,
 * booleans as present/absent attributes, anything else as a string attribute. `null`,
 * `undefined` and `false` values and children are skipped.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props?: Props | null,
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") {
      element.className = String(value);
    } else if (name === "data") {
      for (const [key, data] of Object.entries(value as Record<string, string>)) element.dataset[key] = data;
    } else if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value as EventListener);
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

export function setText(element: Element, text: string): void {
  if (element.textContent !== text) element.textContent = text;
}

/** Sets (or with `null`, removes) an attribute, only when it differs. */
export function setAttr(element: Element, name: string, value: string | null): void {
  if (value === null) {
    if (element.hasAttribute(name)) element.removeAttribute(name);
  } else if (element.getAttribute(name) !== value) {
    element.setAttribute(name, value);
  }
}

export function setData(element: HTMLElement, key: string, value: string): void {
  if (element.dataset[key] !== value) element.dataset[key] = value;
}

/**
 * One element per key under `parent`, in the items' order. `create` runs once per new key,
 * `update` on every render with the element and the current item (it should skip the work when
 * the item has not changed); elements whose key disappeared are removed.
 */
export class KeyedList<T, E extends Element = HTMLElement> {
  private readonly elements = new Map<string, E>();

  constructor(
    private readonly parent: Element,
    private readonly key: (item: T) => string,
    private readonly create: (item: T) => E,
    private readonly update: (element: E, item: T) => void,
  ) {}

  get size(): number {
    return this.elements.size;
  }

  get(key: string): E | undefined {
    return this.elements.get(key);
  }

  render(items: Iterable<T>): void {
    const wanted = new Map<string, E>();
    for (const item of items) {
      const key = this.key(item);
      let element = this.elements.get(key);
      if (!element) element = this.create(item);
      this.update(element, item);
      wanted.set(key, element);
    }
    for (const [key, element] of this.elements) {
      if (!wanted.has(key)) element.remove();
    }
    // Put the elements in order, moving only those that are out of place.
    let cursor: Element | null = this.parent.firstElementChild;
    for (const element of wanted.values()) {
      if (element === cursor) {
        cursor = cursor.nextElementSibling;
      } else {
        this.parent.insertBefore(element, cursor);
      }
    }
    this.elements.clear();
    for (const [key, element] of wanted) this.elements.set(key, element);
  }
}

/** Copies text to the clipboard; falls back to a selection copy where the API is missing. */
export async function copyText(text: string): Promise<void> {
  if (navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return;
    } catch {
      // Denied (e.g. no user activation); try the old way.
    }
  }
  const area = h("textarea", { "aria-hidden": "true", class: "offscreen" });
  area.value = text;
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("the clipboard is not available");
}
