package io.rlhf4j.core.store;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import javax.sql.DataSource;

/**
 * The JDBC plumbing the repositories share, so each of them is only its SQL: transactions, parameter
 * binding, row mapping, batches, the SQLite/PostgreSQL dialect differences and the JSON columns.
 */
final class Jdbc {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Work inside one transaction. */
    @FunctionalInterface
    interface Work<T> {
        T run(Connection c) throws SQLException;
    }

    /** Work inside one transaction that returns nothing. */
    @FunctionalInterface
    interface Action {
        void run(Connection c) throws SQLException;
    }

    /** One row of a result to a value. */
    @FunctionalInterface
    interface Row<T> {
        T map(ResultSet r) throws SQLException;
    }

    private final DataSource pool;
    private final boolean sqlite;

    Jdbc(DataSource pool, boolean sqlite) {
        this.pool = pool;
        this.sqlite = sqlite;
    }

    /** Runs {@code work} in a transaction: committed if it returns, rolled back if it throws. */
    <T> T inTransaction(Work<T> work) {
        try (Connection c = pool.getConnection()) {
            c.setAutoCommit(false);
            try {
                T result = work.run(c);
                c.commit();
                return result;
            } catch (SQLException | RuntimeException e) {
                c.rollback();
                throw e;
            }
        } catch (SQLException e) {
            throw new Store.StoreException(e.getMessage(), e);
        }
    }

    void transaction(Action action) {
        inTransaction(c -> {
            action.run(c);
            return null;
        });
    }

    // ------------------------------------------------------------ one statement, its own transaction

    int update(String sql, Object... args) {
        return inTransaction(c -> update(c, sql, args));
    }

    <T> List<T> list(String sql, Row<T> row, Object... args) {
        return inTransaction(c -> list(c, sql, row, args));
    }

    <T> Optional<T> first(String sql, Row<T> row, Object... args) {
        return inTransaction(c -> first(c, sql, row, args));
    }

    long count(String sql, Object... args) {
        return inTransaction(c -> count(c, sql, args));
    }

    // ------------------------------------------------------------ statements on a transaction's connection

    static int update(Connection c, String sql, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            bind(s, args);
            return s.executeUpdate();
        }
    }

    static <T> List<T> list(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            bind(s, args);
            List<T> out = new ArrayList<>();
            try (ResultSet r = s.executeQuery()) {
                while (r.next()) {
                    out.add(row.map(r));
                }
            }
            return out;
        }
    }

    static <T> Optional<T> first(Connection c, String sql, Row<T> row, Object... args) throws SQLException {
        return list(c, sql, row, args).stream().findFirst();
    }

    /** The single number a {@code SELECT COUNT(*)}-like query returns. */
    static long count(Connection c, String sql, Object... args) throws SQLException {
        return first(c, sql, r -> r.getLong(1), args).orElseThrow();
    }

    /** One statement run once per row of arguments, as one JDBC batch. */
    static void batch(Connection c, String sql, List<Object[]> rows) throws SQLException {
        try (PreparedStatement s = c.prepareStatement(sql)) {
            for (Object[] args : rows) {
                bind(s, args);
                s.addBatch();
            }
            s.executeBatch();
        }
    }

    private static void bind(PreparedStatement s, Object... args) throws SQLException {
        for (int i = 0; i < args.length; i++) {
            int at = i + 1;
            Object a = args[i];
            if (a == null) {
                // Untyped: PostgreSQL infers the column's type, so one null fits text and integer columns.
                s.setObject(at, null);
            } else if (a instanceof String v) {
                s.setString(at, v);
            } else if (a instanceof Long v) {
                s.setLong(at, v);
            } else if (a instanceof Integer v) {
                s.setInt(at, v);
            } else if (a instanceof Boolean v) {
                s.setBoolean(at, v);
            } else if (a instanceof Double v) {
                s.setDouble(at, v);
            } else {
                throw new IllegalArgumentException(
                        "no SQL binding for " + a.getClass().getName());
            }
        }
    }

    // ------------------------------------------------------------ dialect and column helpers

    boolean sqlite() {
        return sqlite;
    }

    /** An insert that leaves an existing row with the same key alone, in this database's dialect. */
    String insertIgnoringConflict(String table, String columns, String key) {
        int n = columns.split(",", -1).length;
        String values = " VALUES (" + String.join(", ", Collections.nCopies(n, "?")) + ")";
        return sqlite
                ? "INSERT OR IGNORE INTO " + table + " (" + columns + ")" + values
                : "INSERT INTO " + table + " (" + columns + ")" + values + " ON CONFLICT (" + key + ") DO NOTHING";
    }

    /** PostgreSQL's text cannot hold NUL (byte-level tokenizers can produce it): store U+FFFD instead. */
    static String text(String s) {
        return s == null || s.indexOf('\u0000') < 0 ? s : s.replace('\u0000', '\uFFFD');
    }

    static String json(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Reads a JSON column; {@code what} names the row in the error, as a bad column is a corrupt store. */
    static <T> T fromJson(String json, Class<T> type, String what) throws SQLException {
        try {
            return JSON.readValue(json, type);
        } catch (IOException e) {
            throw new SQLException(what, e);
        }
    }

    /** An integer column that may be NULL. */
    static Integer nullableInt(ResultSet r, int column) throws SQLException {
        int v = r.getInt(column);
        return r.wasNull() ? null : v;
    }

    /** A bigint column that may be NULL. */
    static Long nullableLong(ResultSet r, int column) throws SQLException {
        long v = r.getLong(column);
        return r.wasNull() ? null : v;
    }
}
