/**
 * What `GET /api/v1/admin/uploads` lists and `DELETE /api/v1/admin/uploads/<uuid>` cancels
 * (src/http/uploads-api.ts): the open OCI blob upload sessions (POST → PATCH… → PUT, OCI
 * Distribution Spec §"Pushing blobs in chunks"). The Docker format hands its sessions from
 * `register()` (`context.uploadSessions.provide`), so the HTTP layer never imports a format.
 */

/** One open upload session, as the admin API answers it (JSON; snake_case as the API's). */
export interface UploadSessionInfo {
  /** The NORA repository the session was opened in (`docker`, or a named one). */
  readonly repository: string;
  /** The image name (`library/alpine`). */
  readonly name: string;
  readonly uuid: string;
  /** Bytes received and committed (the session's offset, what a status request reports). */
  readonly bytes: number;
  /** RFC 3339 times: the session's POST, and its last committed byte (or the POST). */
  readonly started: string;
  readonly last_activity: string;
  /** Who opened it: `user:<name>` or `address:<client address>`; null before migration 0101. */
  readonly client: string | null;
  /** A PATCH or PUT body is streaming into it now. */
  readonly receiving: boolean;
}

/** The sessions of one format (today only docker). */
export interface UploadSessions {
  /** Every open session, oldest first. */
  list(): Promise<UploadSessionInfo[]>;
  /**
   * Cancels the session `uuid` (its spool file is removed; the client's next request on it gets
   * BLOB_UPLOAD_UNKNOWN): the session as it was, or undefined when there is none.
   */
  cancel(uuid: string): Promise<UploadSessionInfo | undefined>;
}

/** Where the format hands its sessions (FormatContext.uploadSessions); empty without one. */
export class UploadSessionsSlot implements UploadSessions {
  #sessions: UploadSessions | undefined;

  provide(sessions: UploadSessions): void {
    this.#sessions = sessions;
  }

  list(): Promise<UploadSessionInfo[]> {
    return this.#sessions?.list() ?? Promise.resolve([]);
  }

  cancel(uuid: string): Promise<UploadSessionInfo | undefined> {
    return this.#sessions?.cancel(uuid) ?? Promise.resolve(undefined);
  }
}
