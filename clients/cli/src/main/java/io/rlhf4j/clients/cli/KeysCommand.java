package io.rlhf4j.clients.cli;

import io.rlhf4j.core.store.ApiKey;
import io.rlhf4j.core.store.Store;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        name = "keys",
        mixinStandardHelpOptions = true,
        description = "Create and revoke API keys (stored hashed).",
        subcommands = {KeysCommand.Create.class, KeysCommand.Revoke.class})
final class KeysCommand {

    @Command(
            name = "create",
            mixinStandardHelpOptions = true,
            description = "Create a key for a user; prints the key once (only its hash is kept).")
    static final class Create implements Callable<Integer> {
        @Mixin
        StoreOptions store;

        @Option(names = "--user", required = true, description = "the user id requests with this key are logged under")
        String user;

        @Option(
                names = "--role",
                defaultValue = "user",
                description = "user, service or labeler (default ${DEFAULT-VALUE})")
        String role;

        @Option(names = "--rpm", defaultValue = "600", description = "requests per minute (default ${DEFAULT-VALUE})")
        int rpm;

        @Option(names = "--may-set-user", description = "let requests name their own user in the 'user' field")
        boolean maySetUser;

        @Override
        public Integer call() {
            String key = ApiKey.generate();
            ApiKey k = new ApiKey(
                    ApiKey.hash(key),
                    ApiKey.prefixOf(key),
                    user,
                    role,
                    maySetUser,
                    rpm,
                    System.currentTimeMillis(),
                    null);
            try (Store s = store.open()) {
                s.keys().create(k);
            }
            System.out.println(key);
            return 0;
        }
    }

    @Command(name = "revoke", mixinStandardHelpOptions = true, description = "Revoke the keys with this prefix.")
    static final class Revoke implements Callable<Integer> {
        @Mixin
        StoreOptions store;

        @Option(names = "--prefix", required = true, description = "the key's first 10 characters")
        String prefix;

        @Override
        public Integer call() {
            try (Store s = store.open()) {
                int n = s.keys().revoke(prefix, System.currentTimeMillis());
                if (n == 0) {
                    throw new IllegalArgumentException("no active key starts with " + prefix);
                }
                System.err.println("revoked " + n + " key(s)");
            }
            return 0;
        }
    }
}
