/* relay-detect-report.h: everything one Detect run found, best proposal first
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "relay-detect-proposal.h"

G_BEGIN_DECLS

#define RELAY_TYPE_DETECT_REPORT (relay_detect_report_get_type ())

G_DECLARE_FINAL_TYPE (RelayDetectReport, relay_detect_report, RELAY, DETECT_REPORT, GObject)

RelayDetectReport   *relay_detect_report_new           (const char        *domain,
                                                        GPtrArray         *proposals,
                                                        GPtrArray         *notes,
                                                        GPtrArray         *guesses,
                                                        gboolean           incomplete);

const char          *relay_detect_report_get_domain    (RelayDetectReport *self);
RelayDetectProposal *relay_detect_report_get_best      (RelayDetectReport *self);
GPtrArray           *relay_detect_report_get_proposals (RelayDetectReport *self);
const char * const  *relay_detect_report_get_notes     (RelayDetectReport *self);
GPtrArray           *relay_detect_report_get_guesses   (RelayDetectReport *self);
gboolean             relay_detect_report_get_incomplete (RelayDetectReport *self);

G_END_DECLS
