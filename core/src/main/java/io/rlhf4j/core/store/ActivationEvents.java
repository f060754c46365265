package io.rlhf4j.core.store;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import org.postgresql.PGConnection;
import org.postgresql.PGNotification;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Wakes a replica when any replica activates a version: PostgreSQL's {@code LISTEN} on
 * {@link VersionRepository#CHANNEL}, on a connection of its own (a pooled one would be handed to
 * others and lose its registration). The caller reads the active versions after every wake-up and
 * also after every timeout, so a notice lost while the connection was down costs one polling interval,
 * never a missed promotion; on SQLite, which has no notifications, polling is all there is.
 */
public final class ActivationEvents implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ActivationEvents.class);

    private final String url;
    private final String user;
    private final String password;
    private volatile Connection connection;
    private volatile boolean closed;

    ActivationEvents(String url, String user, String password) {
        this.url = url;
        this.user = user;
        this.password = password;
    }

    /** Whether notices arrive (PostgreSQL) rather than only the timeouts (SQLite). */
    public boolean notifies() {
        return url != null;
    }

    /**
     * Waits up to {@code timeout}; true when an activation was announced, false when the time ran out
     * (or the listening connection failed: it is reopened on the next call).
     */
    public boolean await(Duration timeout) throws InterruptedException {
        if (url == null || closed) {
            Thread.sleep(timeout.toMillis());
            return false;
        }
        try {
            if (connection == null) {
                connection = DriverManager.getConnection(url, user, password);
                try (Statement s = connection.createStatement()) {
                    s.execute("LISTEN " + VersionRepository.CHANNEL);
                }
            }
            PGNotification[] notices =
                    connection.unwrap(PGConnection.class).getNotifications((int) Math.max(1, timeout.toMillis()));
            return notices != null && notices.length > 0;
        } catch (SQLException e) {
            if (!closed) {
                LOG.warn("listening for promotions failed ({}); polling until it reconnects", e.getMessage());
            }
            closeConnection();
            Thread.sleep(timeout.toMillis());
            return false;
        }
    }

    private void closeConnection() {
        Connection c = connection;
        connection = null;
        if (c != null) {
            try {
                c.close();
            } catch (SQLException ignored) {
                // already broken: nothing more to release
            }
        }
    }

    /** Stops listening; a thread blocked in {@link #await} returns at once. */
    @Override
    public void close() {
        closed = true;
        closeConnection();
    }
}
