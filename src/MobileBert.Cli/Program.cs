return MobileBert.Cli.CliApp.Run(args);
