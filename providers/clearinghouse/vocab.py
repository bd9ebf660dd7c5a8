"""Clearinghouse v2.1 filter vocabularies: id -> label, only ids confirmed in the fact sheet."""

from __future__ import annotations

CASE_STATUS: dict[int, str] = {
    5069: "Approved",
    5071: "Coding Complete",
    5074: "In Process (Public)",
}

CASE_ONGOING: dict[int, str] = {
    5020: "No",
    5021: "Yes",
    5022: "Unknown",
    5023: "No reason to think so",
    5024: "Perhaps, but long-dormant",
}

CASE_TYPE: dict[int, str] = {
    5033: "Mental Health (Facility)",
    5034: "Prison Conditions",
    5035: "Nursing Home Conditions",
    5036: "Child Welfare",
    5038: "Intellectual Disability (Facility)",
    5039: "Policing",
    5041: "School Desegregation",
    5042: "Election/Voting Rights",
    5043: "Immigration and/or the Border",
    5044: "Disability Rights",
    5045: "Equal Employment",
    5046: "Criminal Justice (Other)",
    5047: "Indigent Defense",
    5048: "Fair Housing/Lending/Insurance",
    5049: "Education",
    5050: "Speech and Religious Freedom",
    5051: "Public Benefits/Government Services",
    5052: "Public Accommodations/Contracting",
    5053: "National Security",
    5054: "Presidential/Gubernatorial Authority",
    5055: "Environmental Justice",
    5056: "Jail Conditions",
    5057: "Public Housing",
    5058: "Juvenile Institution",
    7811: "Reproductive Issues",
}

DEFENDANT_LEVEL: dict[int, str] = {
    6146: "State",
    6147: "City",
    6148: "County",
    6149: "Federal",
    6150: "Private Entity/Person",
    6151: "Political Party",
    6152: "School District",
    6153: "Tribe",
    6154: "Regional",
    6155: "Union",
    6156: "Non-profit or advocacy",
}

DEFENDANT_TYPE: dict[int, str] = {
    5284: "Law-enforcement",
    5285: "Parks",
    5286: "Retailer",
    5287: "Sanitation/Public Works",
    5288: "Transportation",
    5289: "Jurisdiction-wide",
    5321: "Multi-family housing provider",
    5322: "Single family housing provider",
    5323: "Bank or credit provider",
    5324: "Insurer",
    5503: "College/University",
    5504: "Corrections",
    5505: "Elementary/Secondary School",
    5506: "Fire",
    5507: "Hospital/Health Department",
    5561: "Restaurant",
    5563: "Movie Theater or Other Entertainment facility",
}

FACILITY_TYPE: dict[int, str] = {
    5429: "Government-run",
    5430: "Non-government non-profit",
    5431: "Non-government for-profit",
}

PLAINTIFF_TYPE: dict[int, str] = {
    5290: "City/County Plaintiff",
    5372: "American Indian Tribe",
    5451: "Private Plaintiff",
    5452: "EEOC Plaintiff",
    5454: "U.S. Dept of Justice plaintiff",
    5455: "State Plaintiff",
    5577: "Public (for-profit) corporation",
    5578: "Closely-held (for profit) corporation",
    5579: "Non-profit religious organization",
    5580: "Non-profit NON-religious organization",
    5584: "Non-DOJ federal government plaintiff",
}

CLASS_ACTION_GRANTED: dict[int, str] = {
    5011: "Not sought",
    5012: "Granted",
    5013: "Pending",
    5014: "Denied",
    5015: "Unknown",
    5016: "Mooted before ruling",
    38575: "Withdrawn",
}

SPECIAL_CASE_TYPE: dict[int, str] = {
    5374: "Tribal Court",
    5591: "Criminal",
    5592: "Habeas",
    5593: "Appellate Court is initial court",
    5594: "MDL",
    5595: "Out-of-court",
    5596: "Non-court arbitration/mediation",
    5597: "Warrant or subpoena application",
}

CONSTITUTIONAL_CLAUSE: dict[int, str] = {
    5314: "Due Process",
    5315: "Ex Post Facto",
    5316: "Right to travel",
    5317: "Self-incrimination",
    5336: "Full faith and credit",
    5347: "Excessive bail/fines",
    5348: "Slavery/Involuntary servitude",
    5361: "Petitions clause",
    5362: "Due Process: Procedural Due Process",
    5363: "Due Process: Substantive Due Process",
    5364: "Suspension Clause",
    5373: "Enumerations Clause",
    5445: "Unreasonable search and seizure",
    5475: "Federalism (including 10th Amendment)",
    5509: "Free Exercise Clause",
    5510: "Establishment Clause",
    5511: "Freedom of speech/association",
    5537: "Equal Protection",
    5571: "Cruel and Unusual Punishment",
    5581: "Supremacy Clause",
    5587: "Takings",
    5598: "Emoluments",
    38546: "Fifteenth Amendment",
}

SETTLEMENT_AGREEMENT: dict[int, str] = {
    5646: "Confession of Judgment",
    5647: "Court Approved Settlement or Consent Decree",
    5648: "Private Settlement Agreement",
    5649: "Voluntary Dismissal",
    5650: "Conditional Dismissal",
}

RELIEF_SOURCES: dict[int, str] = {
    5641: "Settlement",
    5642: "Litigation",
    5643: "Unknown",
    5644: "None yet",
    5645: "None",
}

RELIEF_NATURES: dict[int, str] = {
    5629: "Injunction / Injunctive-like Settlement",
    5630: "None",
    5631: "None yet",
    5632: "Attorneys fees",
    5633: "Preliminary injunction / Temp. restraining order",
    5634: "Warrant/Order allowing surveillance",
    5635: "Document/information produced",
    5636: "Damages",
    5637: "Unknown",
    5638: "Criminal Conviction",
    5639: "Habeas relief",
    5640: "Declaratory Judgment",
}

# Partially captured list (v2.1 "new feature").
TRIAL_COURT_LITIGATION_STATUS: dict[int, str] = {
    38866: "Administrative Stay Granted",
    38870: "Case Is Ongoing",
    38871: "Appeal Pending",
    38902: "Case Dismissed (Involuntary)",
    38907: "Consolidated: Docket Closed",
    38924: "Injunction Granted",
    38925: "Case Transferred: Docket Closed",
    38975: "Administrative Matter Ongoing",
    38983: "Case Dismissed (Voluntary)",
    38989: "Judgment (label truncated in docs)",
    39003: "Administrative Matter Closed",
}

APPELLATE_COURT_LITIGATION_STATUS: dict[int, str] = {
    38871: "Appeal Pending",
    38872: "Appellate Stay Granted",
    38873: "Appellate Stay Denied",
    38874: "Affirmed",
    38875: "Reversed",
    38904: "Appeal Dismissed",
    38905: "Case Dismissed on Appeal",
    38906: "Pending in Supreme Court",
    38921: "SCOTUS Stay Granted",
    38922: "SCOTUS Stay Denied",
    38962: "SCOTUS Granted Stay of Removal",
}

# Query-parameter name -> its vocabulary.
FILTERS: dict[str, dict[int, str]] = {
    "case_status": CASE_STATUS,
    "case_ongoing": CASE_ONGOING,
    "case_type": CASE_TYPE,
    "defendant_level": DEFENDANT_LEVEL,
    "defendant_type": DEFENDANT_TYPE,
    "facility_type": FACILITY_TYPE,
    "plaintiff_type": PLAINTIFF_TYPE,
    "class_action_granted": CLASS_ACTION_GRANTED,
    "special_case_type": SPECIAL_CASE_TYPE,
    "constitutional_clause": CONSTITUTIONAL_CLAUSE,
    "settlement_agreement": SETTLEMENT_AGREEMENT,
    "relief_sources": RELIEF_SOURCES,
    "relief_natures": RELIEF_NATURES,
    "trial_court_litigation_status": TRIAL_COURT_LITIGATION_STATUS,
    "appellate_court_litigation_status": APPELLATE_COURT_LITIGATION_STATUS,
}
