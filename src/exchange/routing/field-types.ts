// Structural mirror of the AMQP field table types exported by
// src/amqp/field-table.ts (being written concurrently). Kept local so the
// routing code compiles on its own; the lead will switch imports to the
// codec's module once it lands. Keep the two definitions identical.

export type FieldValue =
  | { type: 't'; value: boolean }
  | { type: 'b' | 'B' | 's' | 'u' | 'I' | 'i'; value: number }
  | { type: 'l' | 'L' | 'T'; value: bigint }
  | { type: 'f' | 'd'; value: number }
  | { type: 'D'; value: { scale: number; value: number } }
  | { type: 'S'; value: string }
  | { type: 'x'; value: Uint8Array }
  | { type: 'A'; value: FieldValue[] }
  | { type: 'F'; value: FieldTable }
  | { type: 'V'; value: null };

export type FieldTable = { [key: string]: FieldValue };
