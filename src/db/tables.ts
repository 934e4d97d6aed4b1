/** Row types of the core tables. Formats declare their own and use `db.withTables<…>()`. */
export interface BlobsTable {
  digest: string;
  size: number;
  created_at: number;
}

export interface CoreTables {
  blobs: BlobsTable;
}
