package portcullis.kafka;

/** One client action. Prints its outcome lines, adds its totals to the summary and says whether it succeeded. */
interface Command {
  boolean run(Options options, JsonLine summary) throws Exception;
}
