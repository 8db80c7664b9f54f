/**
 * Typed progress events of a copy. The engine emits them; renderers in
 * `lib/cli/` turn them into bars, lines or JSON.
 *
 * @module
 */

/** Something that happened during a copy. */
export type ProgressEvent =
  | {
    /** The source was resolved. */
    type: "resolved";
    /** Source reference. */
    source: string;
    /** Digest of the source manifest or index. */
    digest: string;
    /** Its media type. */
    mediaType: string;
  }
  | {
    /** The plan is known: how many blobs and bytes may move. */
    type: "plan";
    /** Distinct blobs of the chosen images. */
    blobs: number;
    /** Their total size. */
    bytes: number;
    /** Manifests (and indexes) to write. */
    manifests: number;
  }
  | {
    /** A blob transfer started (again, if `attempt` > 1). */
    type: "blob-start";
    /** Blob digest. */
    digest: string;
    /** Blob size. */
    size: number;
    /** 1 for the first try. */
    attempt: number;
  }
  | {
    /** Bytes of a blob moved so far. */
    type: "blob-progress";
    /** Blob digest. */
    digest: string;
    /** Bytes so far. */
    bytes: number;
    /** Blob size. */
    size: number;
  }
  | {
    /** A blob was not transferred: the destination had it, or mounted it. */
    type: "blob-skip";
    /** Blob digest. */
    digest: string;
    /** Blob size. */
    size: number;
    /** Why nothing moved. */
    reason: "exists" | "mounted";
  }
  | {
    /** A blob arrived and the destination confirmed its digest. */
    type: "blob-done";
    /** Blob digest. */
    digest: string;
    /** Blob size. */
    size: number;
  }
  | {
    /** A transfer failed and will be tried again. */
    type: "retry";
    /** Digest of the blob or manifest, or the source reference for the root. */
    digest: string;
    /** The attempt that failed. */
    attempt: number;
    /** Why. */
    reason: string;
  }
  | {
    /** A manifest or index was written. */
    type: "manifest";
    /** Its digest. */
    digest: string;
    /** Its media type. */
    mediaType: string;
    /** The tag it went under, for the root. */
    tag?: string;
    /** True when the destination already had it. */
    skipped?: boolean;
  }
  | {
    /** Something the user should know; the copy goes on. */
    type: "warning";
    /** One line. */
    message: string;
  }
  | {
    /** The copy finished. */
    type: "done";
    /** Digest the destination now names. */
    digest: string;
    /** Bytes transferred. */
    bytes: number;
    /** Blobs transferred, skipped and mounted. */
    transferred: number;
    /** Blobs the destination already had. */
    skipped: number;
    /** Blobs mounted from another repository. */
    mounted: number;
    /** Milliseconds since the copy started. */
    elapsedMs: number;
  };

/** Receives progress events; must not throw. */
export type ProgressListener = (event: ProgressEvent) => void;
