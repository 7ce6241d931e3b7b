import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import type { Connection, RowDataPacket } from 'mysql2/promise'
import type { StartedMysqlServer } from '@backtrack/mysql-server'

/** The largest packet MariaDB allows (1 GiB). */
const MAX_PACKET = 1024 * 1024 * 1024

/** A place in a server's binlog. */
export interface BinlogPoint {
  file: string
  position: number
}

/** `SHOW MASTER STATUS`: where the server's next event will go. */
export async function binlogPoint(admin: Pick<Connection, 'query'>): Promise<BinlogPoint> {
  const [rows] = await admin.query<RowDataPacket[]>('SHOW MASTER STATUS')
  const row = rows[0]
  if (row === undefined) throw new Error('SHOW MASTER STATUS returned nothing: the server has no binlog')
  return { file: String(row.File), position: Number(row.Position) }
}

/** The binlog files from `from.file` to `to.file`, in order (`SHOW BINARY LOGS`). */
async function filesBetween(admin: Pick<Connection, 'query'>, from: BinlogPoint, to: BinlogPoint): Promise<string[]> {
  const [rows] = await admin.query<RowDataPacket[]>('SHOW BINARY LOGS')
  const names = rows.map((row) => String(row.Log_name))
  const first = names.indexOf(from.file)
  const last = names.indexOf(to.file)
  if (first < 0 || last < first) throw new Error(`binlog files ${from.file}..${to.file} are not on the server`)
  return names.slice(first, last + 1)
}

/**
 * MariaDB's own undo of the change between two binlog points: `mariadb-binlog --flashback` of those events piped
 * into the `mariadb` client on the same server, as a DBA would run it. Resolves with the milliseconds from
 * starting the pipeline until the client exits.
 */
export async function flashback(
  server: StartedMysqlServer,
  admin: Pick<Connection, 'query'>,
  from: BinlogPoint,
  to: BinlogPoint,
): Promise<number> {
  if (server.dataDir === undefined) throw new Error('flashback needs a private server (its binlog files are read)')
  const files = (await filesBetween(admin, from, to)).map((file) => join(server.dataDir!, file))
  // --flashback turns each transaction into one BINLOG statement: a large change is a packet far above the 16 MiB
  // default, which the server refuses; a DBA raises the limit on both ends, so does the bench.
  await admin.query(`SET GLOBAL max_allowed_packet = ${MAX_PACKET}`)
  const started = performance.now()
  const dump = spawn(
    'mariadb-binlog',
    ['--flashback', `--start-position=${from.position}`, `--stop-position=${to.position}`, ...files],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  const options = server.connectionOptions('admin')
  const client = spawn(
    'mariadb',
    [
      '--protocol=TCP',
      `--host=${options.host}`,
      `--port=${options.port}`,
      `--user=${options.user}`,
      `--max-allowed-packet=${MAX_PACKET}`,
    ],
    // The password goes through the environment, not the command line (where ps would show it).
    { stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, MYSQL_PWD: options.password } },
  )
  // A client that fails stops reading: its exit code says why, not the broken pipe.
  client.stdin.on('error', () => undefined)
  dump.stdout.pipe(client.stdin)
  const exited = (child: ChildProcess, name: string) =>
    new Promise<void>((resolve, reject) => {
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      child.once('error', reject)
      child.once('close', (code) =>
        code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}: ${stderr.trim().slice(-2000)}`)),
      )
    })
  await Promise.all([exited(dump, 'mariadb-binlog --flashback'), exited(client, 'mariadb')])
  return performance.now() - started
}
