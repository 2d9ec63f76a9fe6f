// DuckDB's sniffer on each file given, as a new user calls it:
// CREATE TABLE t AS FROM read_csv(FILE), no options. Prints per file, tab
// separated: the file, the table's rows and columns, or ERROR and why.
import { DuckDBInstance } from '@duckdb/node-api';

const instance = await DuckDBInstance.create(':memory:');
const db = await instance.connect();
for (const file of process.argv.slice(2)) {
  try {
    await db.run('DROP TABLE IF EXISTS t');
    await db.run(`CREATE TABLE t AS FROM read_csv('${file.replaceAll("'", "''")}')`);
    const rows = (await db.runAndReadAll('SELECT count(*)::INTEGER FROM t')).getRows()[0][0];
    const cols = (await db.runAndReadAll("SELECT count(*)::INTEGER FROM duckdb_columns() WHERE table_name = 't'")).getRows()[0][0];
    console.log(`${file}\t${rows}\t${cols}`);
  } catch (e) {
    console.log(`${file}\tERROR\t${String(e.message).split('\n')[0].replaceAll('\t', ' ')}`);
  }
}
