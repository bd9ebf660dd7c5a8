"""The Clearinghouse emulator's fixed tables: states, places, courts, collections, topics and the words
its synthetic cases are written with."""

from __future__ import annotations

# Only 5853 = Puerto Rico is a real Clearinghouse state id. Every 9000xx id below is an invented
# FIXTURE id for the emulator; the real ids were never captured.
STATES: dict[int, str] = {
    5853: "Puerto Rico",
    900001: "California",
    900002: "Texas",
    900003: "New York",
    900004: "Florida",
    900005: "Illinois",
    900006: "Michigan",
    900007: "Georgia",
    900008: "Washington",
    900009: "Ohio",
    900010: "Pennsylvania",
    900011: "Arizona",
    900012: "Louisiana",
    900013: "Alabama",
    900014: "Massachusetts",
    900015: "Colorado",
    900016: "District of Columbia",
}

# (city, county) per state, for defendant names.
PLACES: dict[int, list[tuple[str, str]]] = {
    5853: [("San Juan", "San Juan"), ("Ponce", "Ponce"), ("Bayamón", "Bayamón")],
    900001: [("Los Angeles", "Los Angeles"), ("Oakland", "Alameda"), ("Fresno", "Fresno")],
    900002: [("Houston", "Harris"), ("Austin", "Travis"), ("El Paso", "El Paso")],
    900003: [("New York", "New York"), ("Buffalo", "Erie"), ("Albany", "Albany")],
    900004: [("Miami", "Miami-Dade"), ("Tampa", "Hillsborough"), ("Orlando", "Orange")],
    900005: [("Chicago", "Cook"), ("Peoria", "Peoria"), ("Springfield", "Sangamon")],
    900006: [("Detroit", "Wayne"), ("Flint", "Genesee"), ("Lansing", "Ingham")],
    900007: [("Atlanta", "Fulton"), ("Savannah", "Chatham"), ("Macon", "Bibb")],
    900008: [("Seattle", "King"), ("Spokane", "Spokane"), ("Tacoma", "Pierce")],
    900009: [("Cleveland", "Cuyahoga"), ("Columbus", "Franklin"), ("Cincinnati", "Hamilton")],
    900010: [("Philadelphia", "Philadelphia"), ("Pittsburgh", "Allegheny"), ("Erie", "Erie")],
    900011: [("Phoenix", "Maricopa"), ("Tucson", "Pima"), ("Yuma", "Yuma")],
    900012: [("New Orleans", "Orleans"), ("Baton Rouge", "East Baton Rouge"), ("Shreveport", "Caddo")],
    900013: [("Birmingham", "Jefferson"), ("Montgomery", "Montgomery"), ("Mobile", "Mobile")],
    900014: [("Boston", "Suffolk"), ("Worcester", "Worcester"), ("Springfield", "Hampden")],
    900015: [("Denver", "Denver"), ("Aurora", "Arapahoe"), ("Pueblo", "Pueblo")],
    900016: [("Washington", "District of Columbia")],
}

# Only 1790 is a real Clearinghouse court id; 9100xx are FIXTURE ids. court id -> (label, state id).
COURTS: dict[int, tuple[str, int]] = {
    1790: ("U. S. Court of International Trade", 900003),
    910001: ("District of Puerto Rico", 5853),
    910002: ("Central District of California", 900001),
    910003: ("Northern District of California", 900001),
    910004: ("Southern District of Texas", 900002),
    910005: ("Western District of Texas", 900002),
    910006: ("Southern District of New York", 900003),
    910007: ("Eastern District of New York", 900003),
    910008: ("Southern District of Florida", 900004),
    910009: ("Northern District of Illinois", 900005),
    910010: ("Eastern District of Michigan", 900006),
    910011: ("Northern District of Georgia", 900007),
    910012: ("Western District of Washington", 900008),
    910013: ("Northern District of Ohio", 900009),
    910014: ("Eastern District of Pennsylvania", 900010),
    910015: ("District of Arizona", 900011),
    910016: ("Eastern District of Louisiana", 900012),
    910017: ("Middle District of Alabama", 900013),
    910018: ("District of Massachusetts", 900014),
    910019: ("District of Colorado", 900015),
    910020: ("District of District of Columbia", 900016),
    910021: ("California state trial court", 900001),
    910022: ("Texas state trial court", 900002),
}

# FIXTURE ids: the real special-collection ids were not captured.
SPECIAL_COLLECTIONS: dict[int, str] = {
    920001: "Fixture Collection: Solitary Confinement",
    920002: "Fixture Collection: Pandemic Response",
    920003: "Fixture Collection: Police Accountability",
    920004: "Fixture Collection: Voting Access",
}

SURNAMES = (
    "Doe", "Roe", "Alvarez", "Baker", "Chen", "Diaz", "Evans", "Foster", "Garcia", "Hughes", "Ibrahim",
    "Jackson", "Kim", "Lopez", "Morgan", "Nguyen", "Ortiz", "Patel", "Quinn", "Rivera", "Smith", "Torres",
    "Underwood", "Vasquez", "Washington", "Young", "Zimmerman",
)  # fmt: skip

TOPICS: dict[int, str] = {
    5033: "involuntary commitment and conditions in a state psychiatric hospital",
    5034: "solitary confinement, medical care and overcrowding in state prisons",
    5035: "staffing and neglect in a nursing home",
    5036: "foster care placements and caseworker caseloads",
    5038: "institutionalization of people with intellectual disabilities",
    5039: "excessive force and unlawful stops by police officers",
    5041: "racial segregation of public schools",
    5042: "polling place closures and voter identification rules",
    5043: "detention conditions for immigrants held at the border",
    5044: "physical access to public buildings for wheelchair users",
    5045: "hiring discrimination against women and minority applicants",
    5046: "pretrial detention and cash bail practices",
    5047: "caseloads of public defenders",
    5048: "discriminatory mortgage lending and tenant screening",
    5049: "special education services and school discipline",
    5050: "permits for public demonstrations and religious displays",
    5051: "delays in processing public benefit applications",
    5052: "refusal of service at places of public accommodation",
    5053: "warrantless surveillance and watchlist procedures",
    5054: "emergency executive orders issued by the governor",
    5055: "siting of a waste facility near a minority neighborhood",
    5056: "sanitation, violence and medical care in a county jail",
    5057: "maintenance and lead paint in public housing",
    5058: "isolation and use of restraints in juvenile detention",
    7811: "access to reproductive health services",
}

DOCUMENT_TYPES = (
    "Complaint",
    "Docket",
    "Order/Opinion",
    "Pleading / Motion / Brief",
    "Settlement Agreement",
    "Monitor/Expert/Receiver Report",
    "Findings Letter/Report",
)
RESOURCE_TYPES = ("Article", "Report", "Book", "Press release")
CAUSES = (
    "42 U.S.C. § 1983",
    "Americans with Disabilities Act (ADA)",
    "Title VII (including PDA), 42 U.S.C. § 2000e",
    "Voting Rights Act, section 2, 52 U.S.C. § 10301",
    "Fair Housing Act/Fair Housing Amendments Act (FHAA), 42 U.S.C. § 3601",
    "Administrative Procedure Act, 5 U.S.C. § 551",
    "State law",
)
FINDINGS = ("The court finds", "Defendants deny", "The parties agree")
HOLDINGS = ("the conditions violate the Constitution", "further discovery is needed", "a monitor shall be appointed")
ENTRIES = ("COMPLAINT against all defendants", "ORDER granting motion", "MOTION to dismiss", "NOTICE of appearance")
ISSUES = (
    "Excessive force",
    "Solitary confinement/Supermax",
    "Medical/Mental Health Care",
    "Disparate Treatment",
    "Language access/needs",
    "Sanitation / living conditions",
)
