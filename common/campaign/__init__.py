"""The campaign definition format: the one concept every service reads, in one pure package.

A campaign is data, not code (docs/DOMAIN.md): one YAML document (the shipped ones are in
``definitions/``) with tracks, each with the fields a submitter fills in, stages with a deadline per
org level, a media policy per file kind, quotas, forward counts, a rubric and where its selection ends
(`decision`: forwarded up to the ministry, or final at a level as an award, a 公示, a library or a vetting). Intake parses and
publishes definitions and checks their submissions; media judges files against their media rules
(media-check too, with no service behind it); review scores with their rubrics and notify counts and
reminds by their stages, from what `campaign_published` carries (`events`: its schema, `to_event`,
`from_event`). No database, no messaging, no clock, no framework (tests/unit/test_code_habits.py walks
the imports).

    model        the parsed definition (FieldSpec, Stage, MediaRule, MediaPolicy, Criterion, Track,
                 CampaignDefinition) and effective deadlines
    schema       the JSON Schema of a definition, its errors in Chinese
    checks       consistency checks (what a schema cannot say)
    parse        parse_definition: YAML or a mapping in, a definition or every problem out
    tighten      check_tightens: a derived copy may only tighten its parent; TIGHTENING, per key
    ownership    check_owner_reach: a campaign makes nothing go above its owner (a university's own ends there)
    media_rules  the facts a rule may name per file kind (type, Chinese label), operators, implication,
                 and judging a file's facts against a policy (findings in Chinese, verdict)
    events       the published campaign as `campaign_published` carries it (to_event / from_event)
    audience     whom a campaign is for (university categories, named universities) and who is in it
    builtin      the shipped definitions, and reading one file
    wording      problems, the one error that carries them all, how values and limits read
"""
from common.campaign.audience import CATEGORIES, NOT_IN_AUDIENCE, Audience
from common.campaign.builtin import DEFINITIONS_DIR, load_builtin_definitions, read_definition
from common.campaign.events import PublishedCampaign, PublishedField, PublishedTrack, campaign_event_data
from common.campaign.media_rules import MEDIA_FACTS, MEDIA_KINDS, OPERATORS, SEVERITIES, Fact, judge, verdict_of
from common.campaign.model import (
    COLLECTED,
    DEADLINE_LEVELS,
    DECISION_KINDS,
    DEPARTMENTS,
    FIELD_TYPES,
    SCORED,
    SUBMIT_LEVELS,
    VETTED,
    CampaignDefinition,
    Criterion,
    Decision,
    FieldSpec,
    FileRequirement,
    MediaPolicy,
    MediaRule,
    Stage,
    Track,
    effective_deadline,
)
from common.campaign.ownership import DECISION_ABOVE_OWNER, above_owner_problems, check_owner_reach
from common.campaign.parse import parse_definition
from common.campaign.schema import DEFINITION_SCHEMA
from common.campaign.tighten import TIGHTENING, check_tightens
from common.campaign.wording import CAMPAIGN_INVALID, CAMPAIGN_LOOSENS_PARENT
from common.levels import LEVELS, parent_level

__all__ = [
    "Audience", "CATEGORIES", "NOT_IN_AUDIENCE",
    "above_owner_problems", "check_owner_reach", "DECISION_ABOVE_OWNER",
    "CAMPAIGN_INVALID", "CAMPAIGN_LOOSENS_PARENT", "COLLECTED", "DECISION_KINDS", "Decision", "SCORED", "VETTED",
    "CampaignDefinition", "campaign_event_data", "check_tightens",
    "Criterion", "DEADLINE_LEVELS", "DEFINITION_SCHEMA", "DEFINITIONS_DIR", "DEPARTMENTS", "effective_deadline",
    "Fact", "FIELD_TYPES", "FieldSpec", "FileRequirement", "judge", "LEVELS", "load_builtin_definitions",
    "MEDIA_FACTS", "MEDIA_KINDS", "MediaPolicy", "MediaRule", "OPERATORS", "parent_level", "parse_definition",
    "PublishedCampaign", "PublishedField", "PublishedTrack", "read_definition", "SEVERITIES", "Stage",
    "SUBMIT_LEVELS", "TIGHTENING", "Track", "verdict_of",
]
