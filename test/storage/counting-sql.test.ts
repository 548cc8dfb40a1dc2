import { DatabaseSync } from "node:sqlite";
import { describe, expect, it } from "vitest";
import { addCost, countingSql, emptyCost } from "../../src/storage/counting-sql";
import { sqlStorage } from "./sqlite";

describe("countingSql: rows written, as the platform bills them", () => {
  it("adds each statement's rowsWritten; reads count nothing; results pass through", () => {
    const cost = emptyCost();
    const sql = countingSql(sqlStorage(new DatabaseSync(":memory:")), cost);
    sql.exec("CREATE TABLE t (x INTEGER)");
    sql.exec("INSERT INTO t VALUES (1), (2), (3)");
    expect(cost.rowsWritten).toBe(3);
    expect(sql.exec("SELECT x FROM t ORDER BY x").toArray()).toEqual([{ x: 1 }, { x: 2 }, { x: 3 }]);
    expect(cost.rowsWritten).toBe(3);
    sql.exec("DELETE FROM t WHERE x > ?", 1);
    expect(cost.rowsWritten).toBe(5);
  });

  it("costs add up", () => {
    const total = emptyCost();
    addCost(total, { rowsWritten: 2, rpcCalls: 3, wsMessagesIn: 4 });
    addCost(total, { rowsWritten: 1, rpcCalls: 1, wsMessagesIn: 1 });
    expect(total).toEqual({ rowsWritten: 3, rpcCalls: 4, wsMessagesIn: 5 });
  });
});
