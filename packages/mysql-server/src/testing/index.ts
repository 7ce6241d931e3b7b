export { tempDir } from './temp-dir.js'
export {
  ALL_ROWS,
  COLUMNS_SQL,
  floatRows,
  insertRows,
  insertSql,
  maxRow,
  minRow,
  nullRow,
  q,
  WEIRD,
  zeroRow,
  type Row,
} from './all-types-fixture.js'
