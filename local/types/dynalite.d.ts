declare module 'dynalite' {
  import type { Server } from 'node:http';
  interface DynaliteOptions {
    /** Milliseconds a CreateTable/DeleteTable stays in CREATING/DELETING. */
    createTableMs?: number;
    deleteTableMs?: number;
    updateTableMs?: number;
    /** Omit for an in-memory store. */
    path?: string;
  }
  export default function dynalite(options?: DynaliteOptions): Server;
}
