/* relay-detect-proposal.h: one set of relay settings that Detect proposes, and where it came from
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "relay-security.h"

G_BEGIN_DECLS

#define RELAY_TYPE_DETECT_PROPOSAL (relay_detect_proposal_get_type ())

G_DECLARE_FINAL_TYPE (RelayDetectProposal, relay_detect_proposal, RELAY, DETECT_PROPOSAL, GObject)

RelayDetectProposal *relay_detect_proposal_new                (const char          *host,
                                                               guint16              port,
                                                               RelaySecurity        security,
                                                               const char          *source);

const char          *relay_detect_proposal_get_host           (RelayDetectProposal *self);
guint16              relay_detect_proposal_get_port           (RelayDetectProposal *self);
RelaySecurity        relay_detect_proposal_get_security       (RelayDetectProposal *self);
const char          *relay_detect_proposal_get_source         (RelayDetectProposal *self);

void                 relay_detect_proposal_set_login          (RelayDetectProposal *self,
                                                               const char          *username,
                                                               const char          *auth_mechanism,
                                                               gboolean             requires_auth,
                                                               const char          *source);
const char          *relay_detect_proposal_get_username       (RelayDetectProposal *self);
const char          *relay_detect_proposal_get_auth_mechanism (RelayDetectProposal *self);
gboolean             relay_detect_proposal_get_requires_auth  (RelayDetectProposal *self);
const char          *relay_detect_proposal_get_login_source   (RelayDetectProposal *self);

void                 relay_detect_proposal_add_note           (RelayDetectProposal *self,
                                                               const char          *note);
const char * const  *relay_detect_proposal_get_notes          (RelayDetectProposal *self);

gboolean             relay_detect_proposal_same_server        (RelayDetectProposal *self,
                                                               RelayDetectProposal *other);
char                *relay_detect_proposal_describe           (RelayDetectProposal *self);

gboolean             relay_detect_proposal_apply              (RelayDetectProposal *self,
                                                               GSettings           *settings,
                                                               GError             **error);

G_END_DECLS
