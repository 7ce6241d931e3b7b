import type { TableIncarnation } from '../page-log/page-log.js'

/** `db`.`name` as a catalog key. */
export const tableKey = (db: string, name: string) => `${db}\u0000${name}`

/** The tables the capture knows by `db`.`name`; `version` changes with every change to it. */
export class Catalog extends Map<string, TableIncarnation> {
  version = 0

  override set(key: string, value: TableIncarnation): this {
    this.version++
    return super.set(key, value)
  }

  override delete(key: string): boolean {
    this.version++
    return super.delete(key)
  }

  override clear(): void {
    this.version++
    super.clear()
  }
}
