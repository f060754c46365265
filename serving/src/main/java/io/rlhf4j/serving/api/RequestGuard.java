package io.rlhf4j.serving.api;

import io.vertx.core.Handler;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.ext.web.RoutingContext;
import java.util.Locale;

/**
 * What a browser could be tricked into sending, refused before any handler runs (on the event loop,
 * without touching the store):
 * <ul>
 *   <li>A write whose {@code Origin} names another site, or is {@code null} (sandboxed iframes and
 *       {@code data:} pages send that): browsers send such posts without a preflight.</li>
 *   <li>A write with a body that is not {@code application/json}: a cross-site form or
 *       {@code text/plain} post is exactly such a body.</li>
 *   <li>In open mode (no keys, loopback only), a request whose {@code Host} is not a loopback name
 *       ({@code localhost}, {@code 127.x.x.x}, {@code [::1]}): a DNS-rebinding page reaches the server
 *       under its own domain name, which then resolves to 127.0.0.1. The name is checked, never
 *       resolved.</li>
 *   <li>A GET with side effects ({@code /v1/labeling/next} leases a prompt and samples completions for
 *       it) from another site: an {@code Origin} of another site or {@code null}, or a browser's
 *       {@code Sec-Fetch-Site} of {@code cross-site} or {@code same-site} (an {@code <img>} or a
 *       no-cors fetch sends no {@code Origin}, but modern browsers send that).</li>
 * </ul>
 */
final class RequestGuard implements Handler<RoutingContext> {

    /** GETs that change state, checked as writes are. */
    private static final java.util.Set<String> SIDE_EFFECTING_GETS = java.util.Set.of("/v1/labeling/next");

    private final Auth auth;

    RequestGuard(Auth auth) {
        this.auth = auth;
    }

    @Override
    public void handle(RoutingContext ctx) {
        HttpServerRequest request = ctx.request();
        String host = host(request);
        if (auth.lastKnownOpenMode() && !isLoopbackName(host)) {
            refuse(
                    ctx,
                    403,
                    "permission_error",
                    "host_not_allowed",
                    "this server is in open mode and answers "
                            + "only requests addressed to localhost, 127.0.0.1 or [::1], not '" + host + "'");
            return;
        }
        HttpMethod m = request.method();
        boolean write = m != HttpMethod.GET && m != HttpMethod.HEAD && m != HttpMethod.OPTIONS;
        String origin = request.getHeader("origin");
        if (!write && SIDE_EFFECTING_GETS.contains(request.path())) {
            String site = request.getHeader("sec-fetch-site");
            boolean foreign = foreignOrigin(origin, host) || "cross-site".equals(site) || "same-site".equals(site);
            if (foreign) {
                refuse(
                        ctx,
                        403,
                        "permission_error",
                        "cross_origin",
                        "cross-site requests to " + request.path() + " are refused (it leases and samples)");
                return;
            }
        }
        if (write) {
            if (foreignOrigin(origin, host)) {
                refuse(
                        ctx,
                        403,
                        "permission_error",
                        "cross_origin",
                        "cross-origin writes are refused (Origin " + origin + ")");
                return;
            }
            boolean hasBody = ctx.body() != null && ctx.body().length() > 0;
            String type = request.getHeader("content-type");
            if (hasBody && (type == null || !mediaType(type).equals("application/json"))) {
                refuse(
                        ctx,
                        415,
                        "invalid_request_error",
                        "unsupported_media_type",
                        "send the body as " + "application/json (got " + (type == null ? "no content-type" : type)
                                + ")");
                return;
            }
        }
        ctx.next();
    }

    /** The request's authority as host[:port]; HTTP/2 carries it as :authority, HTTP/1.1 as Host. */
    private static String host(HttpServerRequest request) {
        var authority = request.authority();
        if (authority == null) {
            return "";
        }
        return authority.port() >= 0 ? authority.host() + ":" + authority.port() : authority.host();
    }

    /** An {@code Origin} of another site, or {@code null} (an opaque origin); absent is not foreign. */
    private static boolean foreignOrigin(String origin, String host) {
        return origin != null && (origin.equals("null") || !sameHost(origin, host));
    }

    private static boolean sameHost(String origin, String host) {
        return host.equalsIgnoreCase(origin.replaceFirst("^[a-zA-Z][a-zA-Z0-9+.-]*://", ""));
    }

    private static String mediaType(String contentType) {
        int semicolon = contentType.indexOf(';');
        return (semicolon < 0 ? contentType : contentType.substring(0, semicolon))
                .trim()
                .toLowerCase(Locale.ROOT);
    }

    /** {@code localhost}, an IPv4 literal in 127.0.0.0/8 or {@code [::1]}, with or without a port. */
    static boolean isLoopbackName(String hostAndPort) {
        String h = hostAndPort.toLowerCase(Locale.ROOT);
        if (h.startsWith("[")) {
            int end = h.indexOf(']');
            return end > 0 && h.substring(1, end).equals("::1");
        }
        int colon = h.lastIndexOf(':');
        String name = colon < 0 ? h : h.substring(0, colon);
        if (name.equals("localhost") || name.equals("::1")) {
            return true;
        }
        String[] parts = name.split("\\.", -1);
        if (parts.length != 4 || !parts[0].equals("127")) {
            return false;
        }
        for (String p : parts) {
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(Character::isDigit) || Integer.parseInt(p) > 255) {
                return false;
            }
        }
        return true;
    }

    private static void refuse(RoutingContext ctx, int status, String type, String code, String message) {
        new ApiError(status, type, null, code, message).send(ctx.response());
    }
}
