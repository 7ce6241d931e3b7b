/** One element of a parsed XML document. */
export interface XmlNode {
  name: string
  attributes: Record<string, string>
  children: XmlNode[]
  /** The element's own text (character data between its children), entities decoded. */
  text: string
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" }

function decode(text: string, at: number): string {
  return text.replace(/&([^;]*);/g, (_, entity: string) => {
    if (entity in ENTITIES) return ENTITIES[entity]!
    const code = /^#x([0-9a-f]+)$/i.exec(entity)?.[1] ?? /^#(\d+)$/.exec(entity)?.[1]
    if (code === undefined) throw new Error(`unknown entity &${entity}; near offset ${at}`)
    return String.fromCodePoint(entity.startsWith('#x') ? parseInt(code, 16) : Number(code))
  })
}

/**
 * A strict parser for the XML the Query protocol sends: elements, attributes, text and entities, an optional XML
 * declaration. It throws on anything malformed (unclosed or mismatched tags, text outside the root, bad entities),
 * which is what a response check wants.
 */
export function parseXml(xml: string): XmlNode {
  let i = 0
  const fail = (what: string): never => {
    throw new Error(`malformed XML at offset ${i}: ${what} (${JSON.stringify(xml.slice(i, i + 40))})`)
  }
  const skipSpace = () => {
    while (i < xml.length && /\s/.test(xml[i]!)) i++
  }
  if (xml.startsWith('<?xml')) {
    const end = xml.indexOf('?>')
    if (end === -1) fail('unterminated XML declaration')
    i = end + 2
  }
  skipSpace()
  const element = (): XmlNode => {
    if (xml[i] !== '<') fail('expected an element')
    const nameMatch = /^<([A-Za-z_][\w.:-]*)/.exec(xml.slice(i))
    if (nameMatch === null) fail('expected an element name')
    const name = nameMatch![1]!
    i += nameMatch![0].length
    const attributes: Record<string, string> = {}
    for (;;) {
      skipSpace()
      if (xml.startsWith('/>', i)) {
        i += 2
        return { name, attributes, children: [], text: '' }
      }
      if (xml[i] === '>') {
        i++
        break
      }
      const attribute = /^([A-Za-z_][\w.:-]*)="([^"<]*)"/.exec(xml.slice(i))
      if (attribute === null) fail('expected an attribute')
      attributes[attribute![1]!] = decode(attribute![2]!, i)
      i += attribute![0].length
    }
    const children: XmlNode[] = []
    let text = ''
    for (;;) {
      if (i >= xml.length) fail(`unclosed <${name}>`)
      if (xml.startsWith('</', i)) {
        const close = `</${name}>`
        if (!xml.startsWith(close, i)) fail(`expected ${close}`)
        i += close.length
        return { name, attributes, children, text }
      }
      if (xml[i] === '<') {
        children.push(element())
        continue
      }
      const next = xml.indexOf('<', i)
      const end = next === -1 ? xml.length : next
      text += decode(xml.slice(i, end), i)
      i = end
    }
  }
  const root = element()
  skipSpace()
  if (i !== xml.length) fail('content after the root element')
  return root
}
