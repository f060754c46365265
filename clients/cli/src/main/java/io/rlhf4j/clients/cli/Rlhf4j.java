package io.rlhf4j.clients.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code rlhf4j} command line. Exit codes scripts can rely on: 0 success, 1 the work failed (the
 * reason is one line on stderr), 2 the command line itself was wrong.
 */
@Command(
        name = "rlhf4j",
        mixinStandardHelpOptions = true,
        version = "rlhf4j 0.1.0",
        description = "Align and serve language models with your users' feedback (InstructGPT on the JVM).",
        subcommands = {
            ServeCommand.class,
            KeysCommand.class,
            DataCommand.class,
            ImportCommand.class,
            GenerateCommand.class,
            PretrainCommand.class,
            EvalCommand.class,
            DemoCommand.class,
            AdminCommand.class,
            ExportCommand.class,
            TrainCommand.class,
            MergeCommand.class,
            BenchCommand.class,
            CommandLine.HelpCommand.class
        })
public final class Rlhf4j implements Runnable {

    public static final int FAILED = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(execute(args));
    }

    /** Runs a command line and returns its exit code (tests call this instead of {@link #main}). */
    public static int execute(String... args) {
        System.setProperty("ai.djl.offline", "true");
        CommandLine cli = new CommandLine(new Rlhf4j());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            cmd.getErr()
                    .println(cmd.getCommandSpec().qualifiedName() + ": "
                            + message.lines().findFirst().orElse(""));
            if (System.getenv("RLHF4J_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return FAILED;
        });
        return cli.execute(args);
    }
}
