import { formatRdsTime } from '@backtrack/core'

/** A text value, a list of child elements, or nothing (the element is left out). */
export type XmlValue = string | number | boolean | Date | readonly XmlElement[] | undefined

export interface XmlElement {
  readonly name: string
  readonly value: XmlValue
  readonly xmlns?: string
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/
// Characters XML 1.0 cannot carry at all, not even as character references.
const FORBIDDEN =
  // eslint-disable-next-line no-control-regex -- these are exactly the characters to remove
  /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
const SPECIAL: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  '\r': '&#13;',
}

/** Escapes text for an XML element or attribute; characters XML cannot carry become U+FFFD. */
function escapeXml(text: string): string {
  return text.replace(FORBIDDEN, '\uFFFD').replace(/[&<>"'\r]/g, (char) => SPECIAL[char] ?? char)
}

/** One element; `undefined` values are left out when rendered. */
export function el(name: string, value: XmlValue): XmlElement {
  if (!NAME.test(name)) throw new Error(`Invalid XML element name: ${name}`)
  return { name, value }
}

/** A list the way the Query protocol sends it: `<Name><Member>…</Member>…</Name>`, `<Name/>` when empty. */
export function xmlList<T>(name: string, memberName: string, items: readonly T[], toValue: (item: T) => XmlValue) {
  return el(
    name,
    items.map((item) => el(memberName, toValue(item))),
  )
}

function renderValue(value: Exclude<XmlValue, undefined | readonly XmlElement[]>): string {
  if (value instanceof Date) return formatRdsTime(value)
  return escapeXml(String(value))
}

/** Renders an element tree; every text value is escaped here and nowhere else. */
export function renderXml(element: XmlElement): string {
  const { name, value } = element
  if (value === undefined) return ''
  const open = element.xmlns === undefined ? name : `${name} xmlns="${escapeXml(element.xmlns)}"`
  if (Array.isArray(value)) {
    const children = (value as readonly XmlElement[]).map(renderXml).join('')
    return children === '' ? `<${open}/>` : `<${open}>${children}</${name}>`
  }
  return `<${open}>${renderValue(value as Exclude<XmlValue, undefined | readonly XmlElement[]>)}</${name}>`
}

/** The root element of a response, in the given namespace. */
export function rootElement(name: string, xmlns: string, children: readonly XmlElement[]): XmlElement {
  return { ...el(name, children), xmlns }
}
