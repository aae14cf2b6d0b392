#include "config.h"
#include "tool.h"
static int run(int argc, char **argv) { (void)argc; (void)argv; return 2; }
const struct tool_cmd cmd_export = { "export", "todo", "todo\n", run };
