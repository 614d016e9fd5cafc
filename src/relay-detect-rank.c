/* relay-detect-rank.c
 *
 * The judgement part of Detect, kept pure (answers in, ordered proposals out) so that the
 * ordering rules can be read and tested without a network: SRV priority and weight, one copy per
 * server, encryption first, and which source vouches for what.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-detect"

#include <glib/gi18n-lib.h>
#include <string.h>

#include "relay-detect-rank.h"
#include "relay-hostname.h"

/* Keeps one copy of each distinct server, encrypted ones first, each source's order kept. */
static GPtrArray *
collect_proposals (GPtrArray *per_source)
{
  GPtrArray *kept = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint pass = 0; pass < 2; pass++)
    for (guint s = 0; s < per_source->len; s++)
      {
        GPtrArray *proposals = g_ptr_array_index (per_source, s);

        for (guint i = 0; i < proposals->len; i++)
          {
            RelayDetectProposal *proposal = g_ptr_array_index (proposals, i);
            gboolean plain = relay_detect_proposal_get_security (proposal) == RELAY_SECURITY_NONE;
            RelayDetectProposal *same = NULL;

            if (plain != (pass == 1))
              continue;

            for (guint k = 0; k < kept->len && same == NULL; k++)
              if (relay_detect_proposal_same_server (g_ptr_array_index (kept, k), proposal))
                same = g_ptr_array_index (kept, k);

            if (same == NULL)
              {
                if (plain)
                  relay_detect_proposal_add_note (proposal,
                                                  _("The connection would not be encrypted: anyone on the network could read the messages and the password"));
                g_ptr_array_add (kept, g_object_ref (proposal));
                continue;
              }

            {
              g_autofree char *note = g_strdup_printf (_("Also proposed by %s"),
                                                       relay_detect_proposal_get_source (proposal));
              relay_detect_proposal_add_note (same, note);
            }
            if (relay_detect_proposal_get_login_source (same) == NULL &&
                relay_detect_proposal_get_login_source (proposal) != NULL)
              relay_detect_proposal_set_login (same,
                                               relay_detect_proposal_get_username (proposal),
                                               relay_detect_proposal_get_auth_mechanism (proposal),
                                               relay_detect_proposal_get_requires_auth (proposal),
                                               relay_detect_proposal_get_login_source (proposal));
          }
      }

  return kept;
}

/* DNS says nothing about logging in; autoconfig does. A login for the same host is taken first,
 * else the best one at all, since providers use one user name scheme for all their servers. */
static void
fill_missing_logins (GPtrArray *proposals)
{
  for (guint i = 0; i < proposals->len; i++)
    {
      RelayDetectProposal *proposal = g_ptr_array_index (proposals, i);
      RelayDetectProposal *donor = NULL;

      if (relay_detect_proposal_get_login_source (proposal) != NULL)
        continue;

      for (guint j = 0; j < proposals->len && donor == NULL; j++)
        {
          RelayDetectProposal *other = g_ptr_array_index (proposals, j);

          if (relay_detect_proposal_get_login_source (other) != NULL &&
              g_strcmp0 (relay_detect_proposal_get_host (other),
                         relay_detect_proposal_get_host (proposal)) == 0)
            donor = other;
        }
      for (guint j = 0; j < proposals->len && donor == NULL; j++)
        {
          RelayDetectProposal *other = g_ptr_array_index (proposals, j);

          if (relay_detect_proposal_get_login_source (other) != NULL)
            donor = other;
        }

      if (donor != NULL)
        relay_detect_proposal_set_login (proposal,
                                         relay_detect_proposal_get_username (donor),
                                         relay_detect_proposal_get_auth_mechanism (donor),
                                         relay_detect_proposal_get_requires_auth (donor),
                                         relay_detect_proposal_get_login_source (donor));
    }
}

static void
note_disagreements (GPtrArray *proposals)
{
  RelayDetectProposal *best;

  if (proposals->len < 2)
    return;

  best = g_ptr_array_index (proposals, 0);
  for (guint i = 1; i < proposals->len; i++)
    {
      RelayDetectProposal *other = g_ptr_array_index (proposals, i);
      g_autofree char *note = NULL;

      /* A source's own second choice (a backup SRV target) is an alternative, not a dispute. */
      if (g_strcmp0 (relay_detect_proposal_get_source (other),
                     relay_detect_proposal_get_source (best)) == 0)
        continue;

      note = g_strdup_printf (_("%s proposes %s, port %u, %s instead"),
                              relay_detect_proposal_get_source (other),
                              relay_detect_proposal_get_host (other),
                              relay_detect_proposal_get_port (other),
                              relay_security_to_label (relay_detect_proposal_get_security (other)));
      relay_detect_proposal_add_note (best, note);
    }
}

/**
 * relay_detect_rank:
 * @per_source: (element-type GPtrArray): for each source, best source first, its proposals in
 *   its own order
 *
 * Merges the sources' answers into one list for people: each distinct server once (the others
 * that proposed it are noted), every encrypted connection before any unencrypted one, a login
 * borrowed from autoconfig where DNS said nothing about it, and on the best proposal a note for
 * each other source that disagrees. The notes and borrowed logins are added to the proposals
 * themselves; nothing else is touched.
 *
 * Returns: (transfer container) (element-type RelayDetectProposal): best first
 */
GPtrArray *
relay_detect_rank (GPtrArray *per_source)
{
  GPtrArray *proposals = collect_proposals (per_source);

  fill_missing_logins (proposals);
  note_disagreements (proposals);
  return proposals;
}

/**
 * relay_detect_usual_guesses:
 * @domain: the sender's domain, normalised
 *
 * Returns: (transfer container) (element-type RelayDetectProposal): smtp.DOMAIN and mail.DOMAIN,
 *   each with 587/STARTTLS and 465/TLS; nothing vouches for them
 */
GPtrArray *
relay_detect_usual_guesses (const char *domain)
{
  static const char * const prefixes[] = { "smtp", "mail" };
  GPtrArray *guesses = g_ptr_array_new_with_free_func (g_object_unref);
  const char *source = _("a usual name, not checked");

  for (guint i = 0; i < G_N_ELEMENTS (prefixes); i++)
    {
      g_autofree char *host = g_strdup_printf ("%s.%s", prefixes[i], domain);

      g_ptr_array_add (guesses, relay_detect_proposal_new (host, 587, RELAY_SECURITY_STARTTLS, source));
      g_ptr_array_add (guesses, relay_detect_proposal_new (host, 465, RELAY_SECURITY_TLS, source));
    }
  return guesses;
}

static int
compare_srv_targets (gconstpointer a,
                     gconstpointer b)
{
  GSrvTarget *ta = *(GSrvTarget **) a;
  GSrvTarget *tb = *(GSrvTarget **) b;

  if (g_srv_target_get_priority (ta) != g_srv_target_get_priority (tb))
    return (int) g_srv_target_get_priority (ta) - (int) g_srv_target_get_priority (tb);
  return (int) g_srv_target_get_weight (tb) - (int) g_srv_target_get_weight (ta);
}

/**
 * relay_detect_srv_proposals:
 * @targets: (element-type GSrvTarget): the answer to one SRV query, in any order
 * @security: what the service name implies: TLS for _submissions, STARTTLS for _submission
 * @source: the description each proposal carries
 * @proposals: (element-type RelayDetectProposal): where the proposals are appended, best first
 * @notes: (element-type utf8): where rejected targets are described
 */
void
relay_detect_srv_proposals (GList         *targets,
                            RelaySecurity  security,
                            const char    *source,
                            GPtrArray     *proposals,
                            GPtrArray     *notes)
{
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();

  for (GList *l = targets; l != NULL; l = l->next)
    {
      GSrvTarget *target = l->data;

      /* RFC 2782: a target of "." means the service is decidedly not available here. */
      if (strcmp (g_srv_target_get_hostname (target), ".") == 0 ||
          *g_srv_target_get_hostname (target) == '\0')
        g_ptr_array_add (notes,
                         g_strdup (_("the domain says it offers no such service (target “.”)")));
      else
        g_ptr_array_add (sorted, target);
    }

  /* Lowest priority first; among equals, the highest weight. RFC 2782 picks randomly by weight
   * to spread connections; a proposal shown to a person should be the same each time. */
  g_ptr_array_sort (sorted, compare_srv_targets);

  for (guint i = 0; i < sorted->len; i++)
    {
      GSrvTarget *target = g_ptr_array_index (sorted, i);
      const char *name = g_srv_target_get_hostname (target);
      g_autoptr(GError) error = NULL;
      g_autofree char *host = NULL;

      host = relay_hostname_normalize (name, NULL, &error);
      if (host == NULL)
        {
          g_ptr_array_add (notes, g_strdup_printf (_("the target “%s” was rejected: %s"),
                                                   name, error->message));
          continue;
        }
      if (g_srv_target_get_port (target) == 0)
        {
          g_ptr_array_add (notes, g_strdup_printf (_("the target %s was rejected: port 0"), host));
          continue;
        }
      g_ptr_array_add (proposals,
                       relay_detect_proposal_new (host, g_srv_target_get_port (target), security,
                                                  source));
    }
}
