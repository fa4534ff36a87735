"""Hand-written sentence-answer cases for the correctness check (never used in training).

Each case: question, context, expected answer, a right paraphrased sentence, wrong sentences
(near-miss number, wrong entity, negation flip, unrelated claim). They mimic the answers of
a RAG app (full sentences, reworded) rather than extractive QA spans, and complement the
demo's ``pipeline/sample_traces._FACTS`` in ``benchmarks/quality.py``'s sentence check.
"""

from __future__ import annotations

CASES = [
    (
        "How long does standard shipping take?",
        "Standard shipping takes 5 to 7 business days within the US. Express shipping "
        "arrives in 2 business days and costs $15 extra.",
        "Standard shipping takes 5 to 7 business days.",
        "Orders sent with standard shipping usually arrive in 5-7 business days.",
        [
            "Standard shipping takes 2 business days.",
            "Standard shipping takes 50 to 70 days.",
            "Standard shipping is not available in the US.",
        ],
    ),
    (
        "Who founded the company?",
        "The company was founded in 2011 by Maria Lopez and David Chen in Austin, Texas. "
        "It moved its headquarters to Denver in 2019.",
        "Maria Lopez and David Chen founded the company.",
        "It was started by Maria Lopez together with David Chen back in 2011.",
        [
            "The company was founded by Steve Miller.",
            "Maria Lopez and David Chen founded it in 2021.",
            "The company was founded by Maria Lopez alone in Denver.",
        ],
    ),
    (
        "What is the maximum file size for uploads?",
        "Uploads are limited to 250 MB per file on the Basic plan and 2 GB per file on the "
        "Business plan. Larger files must be split or sent through the bulk import tool.",
        "250 MB per file on Basic and 2 GB on Business.",
        "On the Basic plan each file can be up to 250 MB, and Business allows files of up to 2 GB.",
        [
            "The maximum file size is 25 MB on every plan.",
            "Files of any size can be uploaded.",
            "Basic allows 2 GB per file and Business allows 250 MB.",
        ],
    ),
    (
        "Where is the annual conference held this year?",
        "This year's annual conference takes place in Lisbon, Portugal, from 14 to 16 May. "
        "Last year it was held in Toronto.",
        "The annual conference is held in Lisbon this year.",
        "This year the conference will take place in Lisbon, Portugal.",
        [
            "This year the conference will take place in Toronto.",
            "The conference is held in Madrid, Spain.",
            "There is no conference this year.",
        ],
    ),
    (
        "How much does the premium subscription cost?",
        "The premium subscription costs $12 per month or $120 per year. Students get a "
        "50% discount with a valid university email.",
        "Premium costs $12 per month or $120 per year.",
        "You pay 12 dollars a month for premium, or 120 dollars if you pay yearly.",
        [
            "Premium costs $20 per month.",
            "Premium costs $12 per year.",
            "The premium subscription is free for everyone.",
        ],
    ),
    (
        "Can I use the free plan for commercial projects?",
        "The free plan may be used for personal and educational projects only. Commercial "
        "use requires a Team or Enterprise licence.",
        "No, commercial use requires a Team or Enterprise licence.",
        "No - for commercial work you need a Team or Enterprise licence; the free plan is "
        "only for personal and educational use.",
        [
            "Yes, the free plan can be used for commercial projects.",
            "Commercial use is allowed on the free plan after 30 days.",
        ],
    ),
    (
        "What temperature should the oven be set to?",
        "Preheat the oven to 180 degrees Celsius (350 degrees Fahrenheit) and bake the loaf "
        "for 45 minutes, until a skewer comes out clean.",
        "Set the oven to 180 degrees Celsius.",
        "Preheat it to 180 °C, which is about 350 °F.",
        [
            "Set the oven to 250 degrees Celsius.",
            "Set the oven to 18 degrees Celsius.",
            "Bake it in the microwave for 5 minutes.",
        ],
    ),
    (
        "When was the bridge opened?",
        "Construction started in 1929 and the bridge was opened to traffic in May 1932. "
        "It was widened in 1974.",
        "The bridge opened in May 1932.",
        "It was opened to traffic in 1932, in May.",
        [
            "The bridge was opened in 1929.",
            "It opened in May 1923.",
            "The bridge was opened in 1974.",
        ],
    ),
    (
        "Which database does the service use for sessions?",
        "Session data is kept in Redis with a 24 hour expiry; orders and accounts are stored "
        "in PostgreSQL.",
        "Sessions are stored in Redis.",
        "The service keeps its session data in Redis, where it expires after 24 hours.",
        [
            "Sessions are stored in PostgreSQL.",
            "Sessions are stored in MongoDB.",
            "Session data never expires.",
        ],
    ),
    (
        "How many vacation days do new employees get?",
        "New employees receive 25 vacation days per year, plus public holidays. After five "
        "years of service the allowance rises to 30 days.",
        "New employees get 25 vacation days a year.",
        "Each year a new hire is entitled to 25 days of vacation in addition to public holidays.",
        [
            "New employees get 30 vacation days a year.",
            "New employees get 52 vacation days.",
            "New employees get no vacation in their first year.",
        ],
    ),
]
