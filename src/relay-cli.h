/* relay-cli.h: the command-line modes, which need no display
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

int      relay_cli_run              (int           argc,
                                     char        **argv);
int      relay_cli_exit_code        (const GError *error,
                                     guint         reply_code);
GSettings *relay_cli_open_settings  (void);
const char *relay_cli_command_for_program (const char *argv0);
char    *relay_cli_describe_commands (void);

G_END_DECLS
