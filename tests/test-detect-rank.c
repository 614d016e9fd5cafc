/* test-detect-rank.c: ordering and merging of Detect's answers, without a network
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-detect-rank.h"

static gboolean
strv_contains_substring (const char * const *strv,
                         const char         *needle)
{
  for (; strv != NULL && *strv != NULL; strv++)
    if (strstr (*strv, needle) != NULL)
      return TRUE;
  return FALSE;
}

static void
test_srv_order (void)
{
  g_autoptr(GPtrArray) proposals = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  GList *targets = NULL;

  targets = g_list_append (targets, g_srv_target_new ("light.example.com", 465, 10, 1));
  targets = g_list_append (targets, g_srv_target_new ("late.example.com", 465, 20, 100));
  targets = g_list_append (targets, g_srv_target_new ("heavy.example.com.", 465, 10, 60000));
  targets = g_list_append (targets, g_srv_target_new ("zero.example.com", 0, 1, 0));
  targets = g_list_append (targets, g_srv_target_new ("bad_name.example.com", 465, 1, 0));

  relay_detect_srv_proposals (targets, RELAY_SECURITY_TLS, "SRV", proposals, notes);
  g_list_free_full (targets, (GDestroyNotify) g_srv_target_free);

  g_assert_cmpuint (proposals->len, ==, 3);
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (proposals, 0)), ==, "heavy.example.com");
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (proposals, 1)), ==, "light.example.com");
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (proposals, 2)), ==, "late.example.com");
  g_ptr_array_add (notes, NULL);
  g_assert_true (strv_contains_substring ((const char * const *) notes->pdata, "zero.example.com was rejected: port 0"));
  g_assert_true (strv_contains_substring ((const char * const *) notes->pdata, "“bad_name.example.com” was rejected"));
}

static void
test_srv_dot (void)
{
  g_autoptr(GPtrArray) proposals = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) notes = g_ptr_array_new_with_free_func (g_free);
  GList *targets = g_list_append (NULL, g_srv_target_new (".", 0, 0, 0));

  relay_detect_srv_proposals (targets, RELAY_SECURITY_STARTTLS, "SRV", proposals, notes);
  g_list_free_full (targets, (GDestroyNotify) g_srv_target_free);

  g_assert_cmpuint (proposals->len, ==, 0);
  g_assert_cmpuint (notes->len, ==, 1);
}

static void
test_rank_merge (void)
{
  g_autoptr(GPtrArray) srv = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) autoconfig = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) per_source = g_ptr_array_new ();
  g_autoptr(GPtrArray) ranked = NULL;
  RelayDetectProposal *plain;
  RelayDetectProposal *same;
  RelayDetectProposal *best;

  g_ptr_array_add (srv, relay_detect_proposal_new ("smtp.example.com", 465, RELAY_SECURITY_TLS, "SRV"));
  plain = relay_detect_proposal_new ("smtp.example.com", 25, RELAY_SECURITY_NONE, "AC");
  g_ptr_array_add (autoconfig, plain);
  same = relay_detect_proposal_new ("smtp.example.com", 465, RELAY_SECURITY_TLS, "AC");
  relay_detect_proposal_set_login (same, "alice", "password-cleartext", TRUE, "AC");
  g_ptr_array_add (autoconfig, same);
  g_ptr_array_add (autoconfig, relay_detect_proposal_new ("other.example.com", 587, RELAY_SECURITY_STARTTLS, "AC"));
  g_ptr_array_add (per_source, srv);
  g_ptr_array_add (per_source, autoconfig);

  ranked = relay_detect_rank (per_source);

  /* The TLS server once (from SRV, login from autoconfig), STARTTLS next, plain last. */
  g_assert_cmpuint (ranked->len, ==, 3);
  best = g_ptr_array_index (ranked, 0);
  g_assert_cmpstr (relay_detect_proposal_get_source (best), ==, "SRV");
  g_assert_cmpstr (relay_detect_proposal_get_username (best), ==, "alice");
  g_assert_cmpstr (relay_detect_proposal_get_login_source (best), ==, "AC");
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (best), "Also proposed by AC"));
  g_assert_true (strv_contains_substring (relay_detect_proposal_get_notes (best),
                                          "AC proposes other.example.com, port 587, STARTTLS instead"));
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (ranked, 1)), ==, "other.example.com");
  g_assert_true (g_ptr_array_index (ranked, 2) == plain);
  /* The login was lent to the other proposals of the run too. */
  g_assert_cmpstr (relay_detect_proposal_get_username (plain), ==, "alice");
}

static void
test_guesses (void)
{
  g_autoptr(GPtrArray) guesses = relay_detect_usual_guesses ("example.com");

  g_assert_cmpuint (guesses->len, ==, 4);
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (guesses, 0)), ==, "smtp.example.com");
  g_assert_cmpuint (relay_detect_proposal_get_port (g_ptr_array_index (guesses, 1)), ==, 465);
  g_assert_cmpstr (relay_detect_proposal_get_host (g_ptr_array_index (guesses, 2)), ==, "mail.example.com");
}

int
main (int   argc,
      char *argv[])
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/relay/detect-rank/srv-order", test_srv_order);
  g_test_add_func ("/relay/detect-rank/srv-dot", test_srv_dot);
  g_test_add_func ("/relay/detect-rank/merge", test_rank_merge);
  g_test_add_func ("/relay/detect-rank/guesses", test_guesses);

  return g_test_run ();
}
