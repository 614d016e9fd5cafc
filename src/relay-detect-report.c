/* relay-detect-report.c
 *
 * The result of a Detect run, kept apart from the proposals: notes about sources that failed or
 * said nothing belong to the run, not to one proposal. Guesses (smtp.DOMAIN and the like) are
 * kept separate from proposals because nothing vouched for them.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "relay-detect"

#include "relay-detect-report.h"

struct _RelayDetectReport
{
  GObject    parent_instance;

  char      *domain;
  GPtrArray *proposals;
  GPtrArray *notes;     /* NULL-terminated */
  GPtrArray *guesses;
  gboolean   incomplete;
};

G_DEFINE_FINAL_TYPE (RelayDetectReport, relay_detect_report, G_TYPE_OBJECT)

static void
relay_detect_report_finalize (GObject *object)
{
  RelayDetectReport *self = RELAY_DETECT_REPORT (object);

  g_clear_pointer (&self->domain, g_free);
  g_clear_pointer (&self->proposals, g_ptr_array_unref);
  g_clear_pointer (&self->notes, g_ptr_array_unref);
  g_clear_pointer (&self->guesses, g_ptr_array_unref);

  G_OBJECT_CLASS (relay_detect_report_parent_class)->finalize (object);
}

static void
relay_detect_report_class_init (RelayDetectReportClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = relay_detect_report_finalize;
}

static void
relay_detect_report_init (RelayDetectReport *self)
{
}

static GPtrArray *
copy_proposals (GPtrArray *array)
{
  GPtrArray *copy = g_ptr_array_new_with_free_func (g_object_unref);

  for (guint i = 0; array != NULL && i < array->len; i++)
    g_ptr_array_add (copy, g_object_ref (g_ptr_array_index (array, i)));
  return copy;
}

/**
 * relay_detect_report_new:
 * @domain: the domain that was examined
 * @proposals: (element-type RelayDetectProposal) (nullable): best first
 * @notes: (element-type utf8) (nullable): remarks about the sources
 * @guesses: (element-type RelayDetectProposal) (nullable): unverified usual names
 */
RelayDetectReport *
relay_detect_report_new (const char *domain,
                         GPtrArray  *proposals,
                         GPtrArray  *notes,
                         GPtrArray  *guesses,
                         gboolean    incomplete)
{
  RelayDetectReport *self = g_object_new (RELAY_TYPE_DETECT_REPORT, NULL);

  self->incomplete = incomplete;
  self->domain = g_strdup (domain);
  self->proposals = copy_proposals (proposals);
  self->guesses = copy_proposals (guesses);
  self->notes = g_ptr_array_new_with_free_func (g_free);
  for (guint i = 0; notes != NULL && i < notes->len; i++)
    g_ptr_array_add (self->notes, g_strdup (g_ptr_array_index (notes, i)));
  g_ptr_array_add (self->notes, NULL);
  return self;
}

const char *
relay_detect_report_get_domain (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), NULL);
  return self->domain;
}

/**
 * relay_detect_report_get_best:
 *
 * Returns: (transfer none) (nullable): the proposal to show first, or %NULL when no source
 *   proposed anything (see relay_detect_report_get_guesses())
 */
RelayDetectProposal *
relay_detect_report_get_best (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), NULL);
  return self->proposals->len > 0 ? g_ptr_array_index (self->proposals, 0) : NULL;
}

/**
 * relay_detect_report_get_proposals:
 *
 * Returns: (transfer none) (element-type RelayDetectProposal): every distinct proposal, best
 *   first; the others are the alternatives
 */
GPtrArray *
relay_detect_report_get_proposals (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), NULL);
  return self->proposals;
}

/**
 * relay_detect_report_get_notes:
 *
 * Returns: (transfer none): what each source answered when it did not propose anything usable:
 *   no record, not found, rejected values, no answer in time
 */
const char * const *
relay_detect_report_get_notes (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), NULL);
  return (const char * const *) self->notes->pdata;
}

/**
 * relay_detect_report_get_guesses:
 *
 * Returns: (transfer none) (element-type RelayDetectProposal): when nothing was found, the usual
 *   candidates (smtp.DOMAIN and mail.DOMAIN on 587 with STARTTLS and 465 with TLS), not checked;
 *   empty otherwise
 */
GPtrArray *
relay_detect_report_get_guesses (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), NULL);
  return self->guesses;
}

/**
 * relay_detect_report_get_incomplete:
 *
 * Whether some source could not be asked (no answer before the deadline, DNS or the network
 * down): without proposals, that is "try again", not "nothing is published".
 */
gboolean
relay_detect_report_get_incomplete (RelayDetectReport *self)
{
  g_return_val_if_fail (RELAY_IS_DETECT_REPORT (self), FALSE);
  return self->incomplete;
}
