"""The book's chapters that state claims, by notebook name, and their short titles (tables and verdicts name
chapters by these). Imports nothing of the project.
"""

#: chapter -> its short title, in the order the closing chapter judges them
TITLES = {"01_imbalance": "The imbalance (Figure 1)", "02_ogm": "OGM and alpha", "04_ge": "GE",
          "05_table1": "Table 1: fusions", "06_table2": "Table 2: balancing methods",
          "07_table6": "Table 6: optimisers", "08_table7": "Table 7: noise", "09_figure3": "Figure 3: ρᵃ",
          "13_table3": "Table 3: video models", "14_table4": "Table 4: audio encoders",
          "15_table5": "Table 5: event localisation", "12_when_ogm_ge_helps": "When OGM-GE helps"}
