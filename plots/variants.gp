# The one table of variant colours: every figure draws a variant in the same
# colour whatever other variants a scenario has (Okabe-Ito, colour-blind safe).
# Loaded by the figure scripts (`load` beside them); vcolor(name) gives the
# colour of a variant name, grey for a name not in the table.
#   dense        blue         #0072b2
#   token-moe    orange       #e69f00
#   sentence-moe bluish green #009e73
#   task-moe     vermillion   #d55e00
#   task-subnet  purple       #cc79a7
#   student      sky blue     #56b4e9
vcolor(v) = v eq "dense" ? "#0072b2" : v eq "token-moe" ? "#e69f00" : v eq "sentence-moe" ? "#009e73" : \
            v eq "task-moe" ? "#d55e00" : v eq "task-subnet" ? "#cc79a7" : v eq "student" ? "#56b4e9" : "#7f7f7f"
