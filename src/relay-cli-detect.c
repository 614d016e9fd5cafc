/* relay-cli-detect.c
 *
 * The command-line face of Detect: prints the proposal with the origin of each value, the
 * alternatives and what each source said, and writes the settings only with --apply. GIO only,
 * so it works over ssh on a machine without a display.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-cli"

#include <glib/gi18n-lib.h>

#include "relay-cli-detect.h"
#include "relay-detector.h"

typedef struct
{
  RelayDetectReport *report;
  GError            *error;
  gboolean           done;
} DetectWait;

static void
detect_cb (GObject      *object,
           GAsyncResult *result,
           gpointer      user_data)
{
  DetectWait *wait = user_data;

  wait->report = relay_detector_detect_finish (RELAY_DETECTOR (object), result, &wait->error);
  wait->done = TRUE;
}

static void
print_short (RelayDetectProposal *proposal)
{
  g_print (_("  %s, port %u, %s (%s)\n"),
           relay_detect_proposal_get_host (proposal),
           relay_detect_proposal_get_port (proposal),
           relay_security_to_label (relay_detect_proposal_get_security (proposal)),
           relay_detect_proposal_get_source (proposal));
}

/**
 * relay_cli_detect:
 * @argc: number of arguments
 * @argv: `detect ADDRESS [--apply]`, or main()'s `smtp-relay detect ADDRESS [--apply]`
 *
 * Returns: 0 when settings were found (and applied with --apply), 68 when nothing was found,
 *   64 on a usage error, 77 when --apply meets a locked key
 */
int
relay_cli_detect (int    argc,
                  char **argv)
{
  g_autoptr(GOptionContext) context = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSettings) settings = NULL;
  g_autoptr(RelayDetector) detector = NULL;
  g_autoptr(RelayDetectReport) report = NULL;
  g_autofree char *isp_url = NULL;
  g_auto(GStrv) args = NULL;
  gboolean apply = FALSE;
  DetectWait wait = { 0 };
  RelayDetectProposal *best;
  GPtrArray *proposals;
  const char * const *notes;
  const GOptionEntry entries[] = {
    { "apply", 0, 0, G_OPTION_ARG_NONE, &apply, N_("Write the proposed settings"), NULL },
    { NULL }
  };

  context = g_option_context_new (_("ADDRESS — propose relay settings for a sender address"));
  g_option_context_set_translation_domain (context, GETTEXT_PACKAGE);
  g_option_context_add_main_entries (context, entries, GETTEXT_PACKAGE);
  g_option_context_set_description (context,
                                    _("Looks up the domain’s DNS SRV records and its published mail client settings. No password is sent. Nothing changes unless --apply is given."));

  /* GOption rearranges and shortens the vector it is given: work on a copy. */
  args = g_new0 (char *, argc + 1);
  for (int i = 0; i < argc; i++)
    args[i] = g_strdup (argv[i]);
  if (!g_option_context_parse_strv (context, &args, &error))
    {
      g_printerr ("%s\n", error->message);
      return RELAY_CLI_EXIT_USAGE;
    }
  /* Called with main()'s vector ("smtp-relay detect ADDRESS") or the subcommand's: no address
   * is ever the word "detect", so both work. */
  if (g_strv_length (args) == 3 && g_str_equal (args[1], "detect"))
    {
      g_free (args[1]);
      args[1] = args[2];
      args[2] = NULL;
    }
  if (g_strv_length (args) != 2)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);

      g_printerr ("%s", help);
      return RELAY_CLI_EXIT_USAGE;
    }

  settings = g_settings_new ("io.github.smtprelay.SmtpRelay");
  isp_url = g_settings_get_string (settings, "isp-database-url");
  detector = relay_detector_new (NULL);
  relay_detector_set_isp_database_url (detector, isp_url);

  relay_detector_detect_async (detector, args[1], NULL, detect_cb, &wait);
  while (!wait.done)
    g_main_context_iteration (NULL, TRUE);

  /* Without a cancellable the only failure is an address that has no usable domain. */
  if (wait.report == NULL)
    {
      g_printerr (_("Cannot detect settings for “%s”: %s\n"), args[1], wait.error->message);
      g_clear_error (&wait.error);
      return RELAY_CLI_EXIT_USAGE;
    }
  report = wait.report;

  best = relay_detect_report_get_best (report);
  proposals = relay_detect_report_get_proposals (report);
  notes = relay_detect_report_get_notes (report);

  if (best != NULL)
    {
      g_autofree char *description = relay_detect_proposal_describe (best);

      g_print (_("Proposed settings for %s:\n"), relay_detect_report_get_domain (report));
      g_print ("%s", description);
      if (proposals->len > 1)
        {
          g_print (_("\nAlternatives:\n"));
          for (guint i = 1; i < proposals->len; i++)
            print_short (g_ptr_array_index (proposals, i));
        }
    }
  else
    {
      GPtrArray *guesses = relay_detect_report_get_guesses (report);

      g_print (_("No settings found for %s.\n"), relay_detect_report_get_domain (report));
      g_print (_("\nUsual candidates (not checked):\n"));
      for (guint i = 0; i < guesses->len; i++)
        print_short (g_ptr_array_index (guesses, i));
    }

  if (notes[0] != NULL)
    {
      g_print (_("\nWhat the sources said:\n"));
      for (guint i = 0; notes[i] != NULL; i++)
        g_print ("  %s\n", notes[i]);
    }
  if (best == NULL)
    {
      const char *domain = relay_detect_report_get_domain (report);

      g_print ("\n");
      if (relay_detect_report_get_incomplete (report))
        g_print (_("No source that answered describes the mail server of %s, and some could not be asked (see above). Check the network connection and try again.\n"),
                 domain);
      else
        g_print (_("No source describes the mail server of %s. Ask the provider, or try smtp.%s or mail.%s with port 587 and STARTTLS, or port 465 and TLS.\n"),
                 domain, domain, domain);
    }

  if (best == NULL)
    return relay_detect_report_get_incomplete (report) ? RELAY_CLI_EXIT_TEMPFAIL
                                                       : RELAY_CLI_EXIT_NOHOST;

  if (!apply)
    {
      g_print (_("\nNothing was changed. Run again with --apply to use these settings.\n"));
      return RELAY_CLI_EXIT_OK;
    }

  if (!relay_detect_proposal_apply (best, settings, &error))
    {
      g_printerr (_("The settings were not changed: %s\n"), error->message);
      return RELAY_CLI_EXIT_NOPERM;
    }
  g_settings_sync ();
  g_print (_("\nThe settings were changed. The password, if one is needed, is set in the window or the keyring.\n"));
  return RELAY_CLI_EXIT_OK;
}
