/**
 * A place in one server life's WAL. `server` names the life: it changes whenever the server
 * restarts or reinitializes after a crash (a killed backend makes the postmaster discard shared
 * memory, WAL buffers included, without restarting: its start time stays, the statistics reset
 * time moves). LSNs of different lives do not compare: after crash recovery the WAL goes on
 * from the last record that reached the disk, so a lost commit's LSN is soon passed again.
 */
export interface WalPosition {
  lsn: bigint;
  server: string;
}

/** SQL naming the server's current life (see {@link WalPosition}). */
export const SERVER_LIFE_SQL = `pg_postmaster_start_time()::text || ' ' ||
  coalesce((SELECT stats_reset FROM pg_stat_wal)::text, '')`;

/** A PostgreSQL WAL position (`16/B374D848`) as a number that orders like the position. */
export function lsnToBigInt(lsn: string): bigint {
  const [hi = '0', lo = '0'] = lsn.split('/');
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}
